package store_test

import (
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/store"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		secret   string // must not appear in the result; "" for none
	}{
		// URLs that parse.
		{"postgres://app:s3cret@db:5432/rathaus?sslmode=require", "postgres://app:xxxxx@db:5432/rathaus?sslmode=require", "s3cret"},
		{"postgresql://app:s3cret@db/rathaus", "postgresql://app:xxxxx@db/rathaus", "s3cret"},
		{"postgres://app:p%40ss%23word@db/x", "postgres://app:xxxxx@db/x", "p%40ss"},
		{"postgres://db/rathaus?password=s3cret", "postgres://db/rathaus?password=xxxxx", "s3cret"},
		{"postgres://db/x?sslmode=disable&sslpassword=s3cret&application_name=r", "postgres://db/x?sslmode=disable&sslpassword=xxxxx&application_name=r", "s3cret"},
		{"postgres://db/x?Pass%77ord=s3cret", "postgres://db/x?Pass%77ord=xxxxx", "s3cret"},
		{"postgres://db/x?pass%zzword=s3cret", "postgres://db/x?pass%zzword=xxxxx", "s3cret"},
		{"postgres://db/x?password=s3c#ret", "postgres://db/x?password=xxxxx", "ret"},
		// Passwords that break url.Parse or fool it.
		{"postgres://app:Sup3r#Secret@db/x", "postgres://app:xxxxx@db/x", "Secret"},
		{"postgres://app:Sup3r/Secret@db/x", "postgres://app:xxxxx@db/x", "Secret"},
		{"postgres://app:Sup3r?Secret@db/x", "postgres://app:xxxxx@db/x", "Secret"},
		{"postgres://app:1234?Secret@db", "postgres://app:xxxxx@db", "Secret"},
		{"postgres://app:Sup3r%zzSecret@db/x", "postgres://app:xxxxx@db/x", "Secret"},
		{"postgres://app:Sup3r@Secret@db/x", "postgres://app:xxxxx@db/x", "Secret"},
		{"postgres://app:Sup3r:Secret@db/x", "postgres://app:xxxxx@db/x", "Secret"},
		{"postgres://app:@db/x", "postgres://app:xxxxx@db/x", ""},
		// No password.
		{"postgres://app@db:5432,db2:5433/x?sslmode=verify-full", "postgres://app@db:5432,db2:5433/x?sslmode=verify-full", ""},
		{"postgres://[::1]:5432/x", "postgres://[::1]:5432/x", ""},
		{"postgres:///rathaus?host=/run/postgresql", "postgres:///rathaus?host=/run/postgresql", ""},
		// In doubt: all of it.
		{"postgres://app:Secret", "[redacted]", "Secret"},     // no host: the password would pass for a port
		{"postgres://app:Secret/db", "[redacted]", "Secret"},  // the same
		{"postgres:/app:Secret@db/x", "[redacted]", "Secret"}, // not quite a URL
		{"postgres://db/x?u=a@b&password=Secret", "[redacted]", "Secret"},
		{"postgres://db:5432/x?u=a@b", "postgres://db:xxxxx@b", ""}, // over-masked, never under
		// Key/value DSNs.
		{"host=db password=Secret user=app", "host=db password=xxxxx user=app", "Secret"},
		{"host=db  password = 'Sup3r \\' Secret' user=app", "host=db password=xxxxx user=app", "Secret"},
		{"PASSWORD=Secret host=db", "PASSWORD=xxxxx host=db", "Secret"},
		{"host=db sslpassword=Sec\\ ret", "host=db sslpassword=xxxxx", "ret"},
		{"host=db password='Sup3r Secret", "[redacted]", "Secret"}, // unterminated quote
		{"host=db password", "[redacted]", ""},
		{"host=db password=x://Secret@y", "host=db password=xxxxx", "Secret"},
		{"host=db user=app", "host=db user=app", ""},
		// SQLite.
		{"sqlite:rathaus-data/rathaus.db", "sqlite:rathaus-data/rathaus.db", ""},
		{"sqlite:///var/lib/rathaus/rathaus.db?_pragma=busy_timeout(5000)", "sqlite:///var/lib/rathaus/rathaus.db?_pragma=busy_timeout(5000)", ""},
		// Neither.
		{"mysql:x", "mysql:x", ""},
		{"", "", ""},
	} {
		got := store.Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.secret != "" && strings.Contains(got, tt.secret) {
			t.Errorf("Redact(%q) = %q leaks %q", tt.in, got, tt.secret)
		}
	}
}

// Whatever the password, Redact does not return it, in a URL or in a
// key/value DSN.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"s3cret", "Sup3r#Secret", "a/b?c@d", "%zz%", "1234?x@db", "' \\", "x://y@z", "password=p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 4 {
			return // too short to tell from the rest of the string
		}
		// leaks reports whether got holds pw other than where the rest of
		// the DSN (template, with the password masked) does.
		leaks := func(template, got string) bool {
			// Redact may drop the quotes around a masked value, so the
			// unquoted masked form counts as "the rest" too.
			rest := strings.ReplaceAll(template, "PW", "xxxxx") + " " +
				strings.ReplaceAll(strings.ReplaceAll(template, "'PW'", "xxxxx"), "PW", "xxxxx") + " [redacted]"
			return strings.Contains(got, pw) && !strings.Contains(rest, pw)
		}
		const u = "postgres://app:PW@db:5432/rathaus?sslmode=require"
		in := strings.ReplaceAll(u, "PW", pw)
		if got := store.Redact(in); leaks(u, got) {
			t.Errorf("Redact(%q) = %q", in, got)
		}
		// Unencoded, '&' and ';' end a query value: what follows is
		// another parameter to pgx too.
		const q = "postgres://db/rathaus?sslmode=require&password=PW"
		in = strings.ReplaceAll(q, "PW", pw)
		if got := store.Redact(in); leaks(q, got) && !strings.ContainsAny(pw, "&;") {
			t.Errorf("Redact(%q) = %q", in, got)
		}
		const kv = "host=db password='PW' user=app"
		in = strings.ReplaceAll(kv, "PW", strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw))
		if got := store.Redact(in); leaks(kv, got) {
			t.Errorf("Redact(%q) = %q", in, got)
		}
	})
}
