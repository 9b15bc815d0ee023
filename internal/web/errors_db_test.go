package web

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// A database that goes away mid-request is answered as one that cannot be
// reached: 503 with Retry-After, which clients retry, not 500. A query's own
// fault stays 500 (or its kind).
func TestDatabaseAwayIsUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		want       int
		retryAfter string
	}{
		{"connection lost in a transaction", fmt.Errorf("save application: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), 503, retryAfterSeconds},
		{"server shut down", fmt.Errorf("commit: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}), 503, retryAfterSeconds},
		{"disk full", fmt.Errorf("commit: %w", &pgconn.PgError{Severity: "ERROR", Code: "53100"}), 503, retryAfterSeconds},
		{"connection closed", fmt.Errorf("exec: %w", pgconn.ErrConnClosed), 503, retryAfterSeconds},
		{"wrapped as Internal", errs.Wrap(errs.Internal, &pgconn.PgError{Code: "08006"}, "x"), 503, retryAfterSeconds},
		{"unique violation", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), 500, ""},
		{"syntax error", fmt.Errorf("query: %w", &pgconn.PgError{Code: "42601"}), 500, ""},
		{"explicit kind wins", errs.Wrap(errs.Conflict, &pgconn.PgError{Code: "08006"}, "Schon erledigt."), 409, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteProblem(rec, httptest.NewRequest("POST", "/api/antraege", nil), tt.err)
			resp := rec.Result()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", got)
			}
			var p Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.want {
				t.Errorf("problem status %d, want %d", p.Status, tt.want)
			}
			if tt.want == 503 && (p.Type != ProblemTypeBase+"unavailable" || p.Detail != kinds[errs.Unavailable].detail) {
				t.Errorf("problem %+v, want type unavailable with the generic detail", p)
			}
		})
	}
}
