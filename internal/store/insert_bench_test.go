package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The ceiling for durable single-row inserts on this machine, through the
// same path Rathaus writes with (store.DB.Transact: on SQLite the single
// writer connection, BEGIN IMMEDIATE, WAL with synchronous=FULL; on
// PostgreSQL the pgx pool with fsync and synchronous_commit on). Rathaus's
// own write paths do more per transaction than this, so their throughput is
// measured against it (BENCHMARKS.md, issue #3):
//
//	go test -run='^$' -bench=DurableInsert -benchtime=3s ./internal/store/
//	scripts/with-postgres.sh go test -run='^$' -bench=DurableInsert -benchtime=3s ./internal/store/

// insertTable is a table like an application row's neighbours: a key and a
// few text columns.
func insertTable(e store.Engine) string {
	id := "id INTEGER PRIMARY KEY"
	if e == store.Postgres {
		id = "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return `CREATE TABLE bench_insert (` + id + `, reference TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL, created_at TIMESTAMP NOT NULL)`
}

const insertRow = `INSERT INTO bench_insert (reference, status, data, created_at) VALUES ($1, $2, $3, $4)`

// insertData is about the size of a stored application form.
var insertData = `{"given_names":"Jan","family_name":"Kaiser","birth_date":"1958-01-16","address":"Wichertstraße 45, 10439",` +
	`"plate":"B-UY 7078","relation":"holder","duration_months":24,"no_own_space":true,"email":"test@example.org",` +
	`"truthful":true,"street":"Wichertstraße","house_number":"45","postcode":"10439","zone_ids":["29"],"x":"` + strings.Repeat("x", 100) + `"}`

func openInsertDB(b *testing.B, e store.Engine) *store.DB {
	db := storetest.Empty(b, e)
	if _, err := db.Write().ExecContext(context.Background(), insertTable(e)); err != nil {
		b.Fatal(err)
	}
	if e == store.SQLite {
		var mode string
		var sync int
		db.Write().QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode)
		db.Write().QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&sync)
		if mode != "wal" || sync != 2 {
			b.Fatalf("SQLite runs with journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
		}
	}
	return db
}

// BenchmarkDurableInsert: one row per committed transaction, from 16 and 64
// goroutines at once (b.RunParallel with SetParallelism). inserts/s is the
// figure; ns/op is its inverse.
func BenchmarkDurableInsert(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			db := openInsertDB(b, e)
			for _, clients := range []int{16, 64} {
				b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
					procs := runtime.GOMAXPROCS(0)
					b.SetParallelism((clients + procs - 1) / procs)
					ctx := context.Background()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						i := 0
						for pb.Next() {
							i++
							err := db.Transact(ctx, func(tx *sql.Tx) error {
								_, err := tx.ExecContext(ctx, insertRow, fmt.Sprintf("BP-2026-%08d", i), "received", insertData, time.Now().UTC())
								return err
							})
							if err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
				})
			}
		})
	}
}

// BenchmarkDurableInsertBatched: the same rows, several per transaction from
// one goroutine — what a writer gains when it commits a group of rows with
// one sync (group commit). rows/s is the figure.
func BenchmarkDurableInsertBatched(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			db := openInsertDB(b, e)
			ctx := context.Background()
			for _, rows := range []int{16, 64} {
				b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
					for i := range b.N {
						err := db.Transact(ctx, func(tx *sql.Tx) error {
							for j := range rows {
								if _, err := tx.ExecContext(ctx, insertRow, fmt.Sprintf("BP-2026-%08d", i*rows+j), "received", insertData, time.Now().UTC()); err != nil {
									return err
								}
							}
							return nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
				})
			}
		})
	}
}
