package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := Parse(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("%PDF-1.7 Überlassungserklärung")
	id, sealed := k.Seal(plain, []byte("doc-1"))
	if bytes.Contains(sealed, []byte("PDF")) {
		t.Fatal("sealed data contain the plain text")
	}
	got, err := k.Open(id, sealed, []byte("doc-1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// The same plain text seals differently each time (fresh nonce).
	if _, again := k.Seal(plain, []byte("doc-1")); bytes.Equal(again, sealed) {
		t.Error("two seals of the same data are equal")
	}
	// Other additional data, a flipped bit, a cut blob: refused.
	if _, err := k.Open(id, sealed, []byte("doc-2")); !errors.Is(err, ErrOpen) {
		t.Errorf("other aad: %v", err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	if _, err := k.Open(id, flipped, []byte("doc-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("flipped bit: %v", err)
	}
	if _, err := k.Open(id, sealed[:10], []byte("doc-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := k.Open("0000000000000000", sealed, []byte("doc-1")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := NewKey(), NewKey()
	old, _ := Parse(oldKey)
	id, sealed := old.Seal([]byte("alt"), nil)
	rotated, err := Parse(newKey + "," + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.CurrentKeyID() == id {
		t.Fatal("the new key does not seal")
	}
	if got, err := rotated.Open(id, sealed, nil); err != nil || string(got) != "alt" {
		t.Fatalf("old blob under the rotated ring: %q, %v", got, err)
	}
	if _, err := Parse(newKey + "," + newKey); err == nil {
		t.Error("a key given twice was accepted")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"", "  ,", "kein-base64!", "c2hvcnQ="} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "document-key")
	a, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	b, err := LoadOrCreate(path)
	if err != nil || a.CurrentKeyID() != b.CurrentKeyID() {
		t.Fatalf("second load gives another key: %v", err)
	}
}
