package directory

import (
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

// FuzzParse: a directory from anywhere does not panic the parser, and only
// the CA's signed, valid document is accepted.
func FuzzParse(f *testing.F) {
	now := time.Unix(1_790_000_000, 0).UTC()
	ca, err := pki.NewCA("Amtsnetz Fuzz", now, 48*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	d := &Directory{Network: "Amtsnetz Fuzz", Version: 1, Issued: now, Until: now.Add(time.Hour)}
	signed, err := Sign(d, ca)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(signed[:len(signed)-5])
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b, ca.Cert)
		if err == nil {
			if got.Validate() != nil || got.Network != "Amtsnetz Fuzz" {
				t.Fatalf("accepted %+v", got)
			}
		}
	})
}
