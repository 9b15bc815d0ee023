package message

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
)

// FuzzVerify: whatever arrives as signature and body, Verify does not
// panic, and when it accepts, the header it returns is the one that was
// signed — no changed signature or body yields another message.
func FuzzVerify(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1_790_000_000, 0).UTC()
	h := header(now)
	body := []byte(`{"person":"Muster"}`)
	sig, err := Sign(h, body, key, "fp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig, body)
	f.Add(sig, []byte(`{"person":"Andere"}`))
	f.Add(sig[:len(sig)/2], body)
	f.Add("eyJhbGciOiJub25lIn0..", body)
	f.Add("a.b.c", []byte{})
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		got, err := Verify(s, b, key.Public(), now)
		if err == nil && got != h {
			t.Fatalf("accepted another header: %+v", got)
		}
	})
}
