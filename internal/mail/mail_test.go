package mail

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/web"
)

// logBuffer collects log lines from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type fixture struct {
	db     *store.DB
	outbox *Outbox
	logs   *logBuffer
	clock  *clock
	ctx    context.Context
}

// newFixture returns an outbox on db. With run, a River client works its
// jobs; without, jobs are only enqueued and the test calls deliver itself.
func newFixture(t *testing.T, db *store.DB, smtp *SMTP, run bool) *fixture {
	t.Helper()
	ctx := context.Background()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := jobs.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	o, err := New(db, Options{SMTP: smtp, From: "Rathaus Müllheim <rathaus@example.org>", Logger: logger, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := river.NewWorkers()
	o.Register(w)
	client, err := jobs.New(db, w, logger, jobs.Options{PollInterval: 50 * time.Millisecond, InsertOnly: !run})
	if err != nil {
		t.Fatal(err)
	}
	o.SetJobs(client)
	if run {
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client.Stop(sctx)
		})
	}
	return &fixture{db: db, outbox: o, logs: logs, clock: c, ctx: ctx}
}

const address = "anna.mueller@example.org"

func message() Message {
	return Message{To: address, Subject: "Ihr Antrag BP-2026-ABCDEFGH ist eingegangen",
		Body: "Guten Tag,\n\nIhr Antrag ist eingegangen. Straße, Größe, Ärger: alles UTF-8.\n. Eine Zeile mit Punkt.\n\nIhre Stadt", Reference: "BP-2026-ABCDEFGH"}
}

func (f *fixture) enqueue(t *testing.T, m Message) string {
	t.Helper()
	var id string
	err := f.db.Transact(f.ctx, func(tx *sql.Tx) error {
		var err error
		id, err = f.outbox.Enqueue(f.ctx, tx, m)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) waitStatus(t *testing.T, id string, want Status) Stored {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := f.outbox.Get(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s (%s), want %s", id, m.Status, m.Note, want)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Read().QueryRowContext(f.ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// noAddressInLogs fails when any log line names the recipient.
func (f *fixture) noAddressInLogs(t *testing.T) {
	t.Helper()
	if l := f.logs.String(); strings.Contains(l, address) || strings.Contains(l, "mueller") {
		t.Errorf("the logs name the recipient:\n%s", l)
	}
}

func TestEnqueueBelongsToTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil, true)
		boom := errors.New("the change failed")
		err := db.Transact(f.ctx, func(tx *sql.Tx) error {
			if _, err := f.outbox.Enqueue(f.ctx, tx, message()); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Transact = %v", err)
		}
		if n := f.count(t, "SELECT count(*) FROM mail_outbox"); n != 0 {
			t.Errorf("%d messages after a rolled-back transaction, want 0", n)
		}
		if n := f.count(t, "SELECT count(*) FROM river_job WHERE kind = 'mail.send'"); n != 0 {
			t.Errorf("%d send jobs after a rolled-back transaction, want 0", n)
		}

		// Without an SMTP server the job keeps the message, and says so.
		id := f.enqueue(t, message())
		m := f.waitStatus(t, id, Kept)
		if m.Note != "kept (no SMTP configured)" || m.SentAt != nil || m.Attempts != 0 {
			t.Errorf("kept message: note %q, sent %v, attempts %d", m.Note, m.SentAt, m.Attempts)
		}
		list, err := f.outbox.List(f.ctx, 10)
		if err != nil || len(list) != 1 || list[0].ID != id || list[0].Body != message().Body || list[0].To != address {
			t.Errorf("List = %+v, %v", list, err)
		}
		if !strings.Contains(f.logs.String(), id) {
			t.Errorf("the log does not name the message id %s:\n%s", id, f.logs)
		}
		f.noAddressInLogs(t)
	}, Migrations)
}

func TestListNewestFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil, false)
		first := f.enqueue(t, message())
		f.clock.advance(time.Minute)
		second := f.enqueue(t, message())
		list, err := f.outbox.List(f.ctx, 10)
		if err != nil || len(list) != 2 || list[0].ID != second || list[1].ID != first {
			t.Errorf("List = %v, %v; want %s then %s", list, err, second, first)
		}
		if list, _ := f.outbox.List(f.ctx, 1); len(list) != 1 {
			t.Errorf("List(1) returned %d", len(list))
		}
	}, Migrations)
}

func TestSendsOnceOverSTARTTLS(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := newFakeSMTP(t)
		f := newFixture(t, db, srv.config(t, "rathaus"), true)
		id := f.enqueue(t, message())
		m := f.waitStatus(t, id, Sent)
		if m.SentAt == nil || m.Attempts != 1 || m.Note != "" {
			t.Errorf("sent message: sent_at %v, attempts %d, note %q", m.SentAt, m.Attempts, m.Note)
		}
		got := srv.messages()
		if len(got) != 1 {
			t.Fatalf("server received %d messages, want 1", len(got))
		}
		if got[0].To != "TO:<"+address+">" || !strings.HasPrefix(got[0].From, "FROM:<rathaus@example.org>") {
			t.Errorf("envelope %q → %q", got[0].From, got[0].To)
		}
		parsed, err := netmail.ReadMessage(strings.NewReader(got[0].Data))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		body, _ := io.ReadAll(quotedprintable.NewReader(parsed.Body))
		if subject != message().Subject || strings.TrimSuffix(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") != message().Body {
			t.Errorf("received subject %q, body %q; want the message's", subject, body)
		}
		if parsed.Header.Get("Message-Id") != "<"+id+"@example.org>" || parsed.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("headers %v", parsed.Header)
		}
		// Nothing but EHLO and STARTTLS went over the wire in the clear.
		srv.mu.Lock()
		plain, auth := srv.plaintext, srv.auth
		srv.mu.Unlock()
		for _, c := range plain {
			if v := strings.ToUpper(strings.Fields(c)[0]); v != "EHLO" && v != "STARTTLS" {
				t.Errorf("command %q sent before TLS", c)
			}
		}
		if len(auth) != 1 {
			t.Errorf("AUTH seen %d times, want once", len(auth))
		}

		// At most once: the job run again, or a second job for the same
		// message, sends nothing.
		if err := f.outbox.deliver(f.ctx, id, false); err != nil {
			t.Errorf("deliver again = %v", err)
		}
		if _, err := f.outbox.jobs.River.Insert(f.ctx, SendArgs{ID: id}, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if n := len(srv.messages()); n != 1 {
			t.Errorf("server received %d messages after the job ran again, want 1", n)
		}
		f.noAddressInLogs(t)
	}, Migrations)
}

func TestRefusesToSendWithoutTLS(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := newFakeSMTP(t)
		srv.noStartTLS = true
		f := newFixture(t, db, srv.config(t, "rathaus"), false)
		id := f.enqueue(t, message())
		err := f.outbox.deliver(f.ctx, id, false)
		if err == nil {
			t.Fatal("sent to a server without STARTTLS")
		}
		m, _ := f.outbox.Get(f.ctx, id)
		if m.Status != Queued || !strings.Contains(m.Note, "STARTTLS") || m.SentAt != nil {
			t.Errorf("after refusing: %s %q, want queued for a retry with a note on STARTTLS", m.Status, m.Note)
		}
		srv.mu.Lock()
		plain := strings.Join(srv.plaintext, "\n")
		srv.mu.Unlock()
		if strings.Contains(plain, "AUTH") || strings.Contains(plain, "MAIL") || len(srv.messages()) != 0 {
			t.Errorf("credentials or mail sent in the clear:\n%s", plain)
		}
		// On the job's last attempt the message is given up.
		if err := f.outbox.deliver(f.ctx, id, true); err == nil {
			t.Fatal("no error on the last attempt")
		}
		if m, _ := f.outbox.Get(f.ctx, id); m.Status != Failed || m.Attempts != 2 {
			t.Errorf("after the last attempt: %s, %d attempts; want failed after 2", m.Status, m.Attempts)
		}
		f.noAddressInLogs(t)
	}, Migrations)
}

func TestRefusedRecipientFailsWithoutNamingIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := newFakeSMTP(t)
		srv.rcptReply = "550 5.1.1 $TO: Recipient address rejected"
		f := newFixture(t, db, srv.config(t, ""), false)
		id := f.enqueue(t, message())
		err := f.outbox.deliver(f.ctx, id, false)
		var cancel *river.JobCancelError
		if !errors.As(err, &cancel) {
			t.Fatalf("deliver = %v, want the job cancelled: a 550 does not get better", err)
		}
		m, _ := f.outbox.Get(f.ctx, id)
		if m.Status != Failed || !strings.Contains(m.Note, "550") || !strings.Contains(m.Note, "[Adresse]") || strings.Contains(m.Note, address) {
			t.Errorf("after a 550: %s %q", m.Status, m.Note)
		}
		if strings.Contains(err.Error(), address) {
			t.Errorf("the job's error names the recipient: %v", err)
		}
		f.noAddressInLogs(t)
	}, Migrations)
}

func TestUncertainDeliveryIsNotRepeated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := newFakeSMTP(t)
		srv.dropOnDot = true
		f := newFixture(t, db, srv.config(t, "rathaus"), false)
		id := f.enqueue(t, message())
		if err := f.outbox.deliver(f.ctx, id, false); err == nil {
			t.Fatal("no error when the server's answer was lost")
		}
		m, _ := f.outbox.Get(f.ctx, id)
		if m.Status != Failed || !strings.Contains(m.Note, "ungewiss") {
			t.Errorf("after a lost answer: %s %q; want failed, delivery uncertain", m.Status, m.Note)
		}
		f.outbox.deliver(f.ctx, id, false)
		if n := len(srv.messages()); n != 1 {
			t.Errorf("server received %d messages, want 1: an uncertain delivery is not repeated", n)
		}
	}, Migrations)
}

func TestPurgeAndForget(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil, false)
		old := f.enqueue(t, message())
		f.outbox.deliver(f.ctx, old, false) // kept
		other := message()
		other.Reference = "BP-2026-ANDERES1"
		f.enqueue(t, other)
		f.clock.advance(91 * 24 * time.Hour)
		fresh := f.enqueue(t, message())
		n, err := f.outbox.Purge(f.ctx)
		if err != nil || n != 2 {
			t.Fatalf("Purge = %d, %v; want the 2 messages older than 90 days", n, err)
		}
		list, _ := f.outbox.List(f.ctx, 10)
		if len(list) != 1 || list[0].ID != fresh {
			t.Errorf("after Purge: %v, want only %s", list, fresh)
		}
		if err := db.Transact(f.ctx, func(tx *sql.Tx) error { return f.outbox.Forget(f.ctx, tx, message().Reference) }); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "SELECT count(*) FROM mail_outbox"); n != 0 {
			t.Errorf("%d messages after Forget, want 0", n)
		}
		// A job whose message is gone ends quietly.
		var cancel *river.JobCancelError
		if err := f.outbox.deliver(f.ctx, fresh, false); err != nil && !errors.As(err, &cancel) {
			t.Errorf("deliver of a deleted message = %v", err)
		}
	}, Migrations)
}

func TestEnqueueRefusesBrokenHeaders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil, false)
		cases := map[string]func(*Message){
			"bcc in to":         func(m *Message) { m.To = address + "\r\nBcc: x@example.org" },
			"name and address":  func(m *Message) { m.To = "Anna <" + address + ">" },
			"two addresses":     func(m *Message) { m.To = address + ", x@example.org" },
			"subject two lines": func(m *Message) { m.Subject = "Hallo\r\nBcc: x@example.org" },
			"empty body":        func(m *Message) { m.Body = " \n" },
			"no subject":        func(m *Message) { m.Subject = "" },
		}
		for name, mutate := range cases {
			m := message()
			mutate(&m)
			err := db.Transact(f.ctx, func(tx *sql.Tx) error { _, err := f.outbox.Enqueue(f.ctx, tx, m); return err })
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("%s: Enqueue = %v, want Invalid", name, err)
			} else if strings.Contains(err.Error(), address) {
				t.Errorf("%s: the error quotes the address: %v", name, err)
			}
		}
	}, Migrations)
}

func TestParseSMTPURL(t *testing.T) {
	good := []struct {
		url  string
		want SMTP
	}{
		{"smtp://mailer:s3cr%40t@mail.example.org:587", SMTP{Host: "mail.example.org", Port: "587", Username: "mailer", Password: "s3cr@t"}},
		{"smtp://mail.example.org", SMTP{Host: "mail.example.org", Port: "587"}},
		{"smtps://u:p@mail.example.org", SMTP{Host: "mail.example.org", Port: "465", Username: "u", Password: "p", ImplicitTLS: true}},
		{"smtp://[::1]:2525/", SMTP{Host: "::1", Port: "2525"}},
	}
	for _, tc := range good {
		got, err := ParseSMTPURL(tc.url)
		if err != nil || *got != tc.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{"http://u:geheim@mail.example.org", "smtp://u:geheim@", "smtp://u:geheim@h:99999", "smtp://u:geheim@h/x",
		"smtp://u:geheim@h?x=1", "mail.example.org:587", "smtp://u:geheim@h:%zz"} {
		_, err := ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "geheim") {
			t.Errorf("ParseSMTPURL(%q) error quotes the password: %v", bad, err)
		}
	}
}

func TestNewNeedsASenderForSMTP(t *testing.T) {
	if _, err := New(nil, Options{SMTP: &SMTP{Host: "h", Port: "587"}}); err == nil {
		t.Error("New with SMTP but no sender accepted")
	}
	if _, err := New(nil, Options{From: "kein Absender"}); err == nil {
		t.Error("New with an invalid sender accepted")
	}
}

func TestDemoPageShowsTheOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil, false)
		m := message()
		m.Body = "Erste Zeile\nzweite Zeile <script>alert(1)</script>\n\nZweiter Absatz"
		id := f.enqueue(t, m)
		f.outbox.deliver(f.ctx, id, false)
		assets, err := web.NewAssets()
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewHandler(f.outbox, assets)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		h.DemoRoutes(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/demo/post", nil))
		page := rec.Body.String()
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("GET /demo/post = %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
		}
		for _, want := range []string{address, m.Subject, "Nicht versandt (kein SMTP-Server konfiguriert)", "<details>",
			"Erste Zeile<br>zweite Zeile &lt;script&gt;", "<p class=\"kern-body\">Zweiter Absatz</p>", m.Reference} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(page, "<script>alert") {
			t.Error("the body is not escaped")
		}
	}, Migrations)
}

// The send job cancels itself only when its message is gone. A message it
// cannot read (the database is away) is tried again.
func TestDeliverRetriesWhenTheMessageCannotBeRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := newFakeSMTP(t)
		f := newFixture(t, db, srv.config(t, "rathaus"), false)
		var cancel *river.JobCancelError

		// Deleted with its case, or by retention: cancelled.
		err := f.outbox.deliver(f.ctx, "mail_00000000000000000000000000000000", false)
		if !errors.As(err, &cancel) || !errs.Is(err, errs.NotFound) {
			t.Errorf("missing message: deliver = %v, want a cancel of a NotFound", err)
		}

		// A message another job has claimed, whose row cannot be read:
		// SQLite's read pool is closed while the write pool answers
		// (PostgreSQL has one pool for both, so the case is SQLite's).
		if db.Engine != store.SQLite {
			return
		}
		id := f.enqueue(t, message())
		storetest.Exec(t, db, `UPDATE mail_outbox SET status = 'sending' WHERE id = $1`, id)
		if err := db.Read().Close(); err != nil {
			t.Fatal(err)
		}
		err = f.outbox.deliver(f.ctx, id, false)
		if err == nil || errors.As(err, &cancel) {
			t.Errorf("message not readable: deliver = %v, want an error River retries (not a cancel)", err)
		}
		if n := len(srv.messages()); n != 0 {
			t.Errorf("server received %d messages, want 0", n)
		}
	}, Migrations)
}
