// Package vault seals personal files at rest: documents citizens upload are
// stored encrypted with AES-256-GCM under a key that lives outside the
// database (an operator's secret, RATHAUS_DOCUMENT_KEYS), so a copy of the
// database or of its backups alone does not reveal them.
//
// A Keyring holds one or more 32-byte keys. The first seals; every key
// opens, so a key is rotated by putting the new one first and keeping the
// old one behind it until nothing sealed with it is left. Each sealed blob
// names its key by an ID (a hash of the key, never the key) and carries its
// own random 96-bit nonce; the caller's additional data (e.g. document and
// case ID) is authenticated with it, so a blob copied onto another record
// does not open there.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// Keyring seals with its first key and opens with any of its keys.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	order   []string
}

// ErrUnknownKey: the blob was sealed with a key the keyring does not hold.
var ErrUnknownKey = errors.New("vault: sealed with a key that is not configured")

// ErrOpen: the blob does not open (altered, truncated, or other data).
var ErrOpen = errors.New("vault: the sealed data do not open (altered or not theirs)")

// New returns a keyring of raw keys, each KeySize bytes; the first seals.
func New(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no key")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("vault: key %d has %d bytes, want %d", i+1, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("vault: key %d is given twice", i+1)
		}
		k.aeads[id] = aead
		k.order = append(k.order, id)
	}
	k.current = k.order[0]
	return k, nil
}

// Parse reads keys in standard base64, separated by commas, spaces or
// newlines (the form of RATHAUS_DOCUMENT_KEYS); the first seals.
func Parse(s string) (*Keyring, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	var keys [][]byte
	for i, f := range fields {
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			return nil, fmt.Errorf("Schlüssel %d ist kein Base64: %v", i+1, err)
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("Schlüssel %d hat %d Bytes, erwartet sind %d (zum Beispiel: head -c 32 /dev/urandom | base64)", i+1, len(b), KeySize)
		}
		keys = append(keys, b)
	}
	if len(keys) == 0 {
		return nil, errors.New("kein Schlüssel angegeben")
	}
	return New(keys...)
}

// NewKey returns a fresh random key in base64.
func NewKey() string {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.StdEncoding.EncodeToString(b)
}

// LoadOrCreate reads a keyring from path, creating the file with a fresh
// key (mode 0600) when it does not exist: for the demo's data directory.
func LoadOrCreate(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		key := NewKey()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := f.WriteString(key + "\n"); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		b = []byte(key)
	} else if err != nil {
		return nil, err
	}
	k, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// KeyID names a key without revealing it: the first 8 bytes of a hash of
// it, in hex.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("rathaus vault key id\x00"), key...))
	return hex.EncodeToString(h[:8])
}

// CurrentKeyID is the ID of the key that seals.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plain with the current key and binds it to aad; it returns
// the key's ID and nonce‖ciphertext‖tag.
func (k *Keyring) Seal(plain, aad []byte) (keyID string, sealed []byte) {
	aead := k.aeads[k.current]
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic(err)
	}
	return k.current, aead.Seal(out, out, plain, aad)
}

// Open decrypts what Seal returned, with the same aad.
func (k *Keyring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w (key %s)", ErrUnknownKey, keyID)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
