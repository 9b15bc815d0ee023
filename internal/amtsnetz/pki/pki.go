// Package pki is the trust of an Amtsnetz: a root certification
// authority that the network's operator runs, and member certificates it
// issues to each organisation's node (X-Road's security servers). A
// member certificate names the member in its subject (CN = member ID, O =
// organisation) and as a URI (urn:amtsnetz:member:ID), lists the node's
// host names, and serves for both TLS ends (mutual authentication) and
// for signing messages.
//
// Keys follow BSI TR-02102-1/-2: ECDSA on P-256 or P-384, or RSA with at
// least 3072 bits; the CA uses P-384, members P-256 by default. TLS is
// 1.2 or 1.3 with ECDHE and AES-GCM only (no CBC, no ChaCha20: TR-02102-2
// lists AES-GCM; with GODEBUG=fips140=on Go's TLS 1.3 also leaves out
// ChaCha20-Poly1305).
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// MemberURIPrefix starts the URI that names a member in its certificate.
const MemberURIPrefix = "urn:amtsnetz:member:"

// memberIDPattern: a class and a code, optionally a subsystem, e.g.
// "KOMMUNE:110000000000" or "KOMMUNE:110000000000:meldebehoerde".
var memberIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9-]{1,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}(:[a-z0-9][a-z0-9._-]{0,63})?$`)

// ValidMemberID reports whether id has the form CLASS:CODE[:subsystem].
func ValidMemberID(id string) error {
	if !memberIDPattern.MatchString(id) {
		return fmt.Errorf("Mitglieds-ID %q: erwartet KLASSE:KENNUNG[:teilsystem], zum Beispiel KOMMUNE:110000000000", id)
	}
	return nil
}

// CheckKey accepts the public keys of BSI TR-02102: ECDSA on P-256 or
// P-384, RSA of 3072 bits or more.
func CheckKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("ECDSA-Schlüssel auf %s: erlaubt sind P-256 und P-384 (BSI TR-02102)", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() >= 3072 {
			return nil
		}
		return fmt.Errorf("RSA-Schlüssel mit %d Bit: erlaubt sind mindestens 3072 Bit (BSI TR-02102)", k.N.BitLen())
	}
	return fmt.Errorf("Schlüsseltyp %T: erlaubt sind ECDSA (P-256, P-384) und RSA ab 3072 Bit (BSI TR-02102)", pub)
}

// CA is the root of an Amtsnetz.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

// NewCA makes a root CA named name (ECDSA P-384), valid for validity
// from now.
func NewCA(name string, now time.Time, validity time.Duration) (*CA, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("die Zertifizierungsstelle braucht einen Namen")
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Member asks for a member certificate.
type Member struct {
	ID       string   // CLASS:CODE[:subsystem]
	Org      string   // the organisation's name
	Hosts    []string // DNS names and IP addresses of the node
	Validity time.Duration
	// Key is the member's public key (from a key the member made); nil:
	// Issue makes a P-256 key and returns it.
	Key crypto.PublicKey
}

// Issue signs a member certificate. It returns the certificate and, when
// it made the key, the private key.
func (ca *CA) Issue(m Member, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	if err := ValidMemberID(m.ID); err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(m.Org) == "" {
		return nil, nil, errors.New("die Organisation des Mitglieds fehlt")
	}
	if len(m.Hosts) == 0 {
		return nil, nil, errors.New("mindestens ein Hostname oder eine IP-Adresse des Knotens ist nötig")
	}
	if m.Validity <= 0 || m.Validity > 3*365*24*time.Hour {
		return nil, nil, errors.New("Gültigkeit: mehr als null und höchstens drei Jahre")
	}
	var priv crypto.Signer
	pub := m.Key
	if pub == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv, pub = k, &k.PublicKey
	}
	if err := CheckKey(pub); err != nil {
		return nil, nil, err
	}
	uri, _ := url.Parse(MemberURIPrefix + m.ID)
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: m.ID, Organization: []string{m.Org}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(m.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{uri},
	}
	for _, h := range m.Hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, priv, err
}

// MemberID returns the member a certificate names (its URI SAN); the
// certificate must have been verified against the Amtsnetz CA first.
func MemberID(cert *x509.Certificate) (string, error) {
	for _, u := range cert.URIs {
		if s := u.String(); strings.HasPrefix(s, MemberURIPrefix) {
			id := strings.TrimPrefix(s, MemberURIPrefix)
			if err := ValidMemberID(id); err != nil {
				return "", err
			}
			if cert.Subject.CommonName != id {
				return "", fmt.Errorf("Zertifikat nennt %q als URI, aber %q als Namen", id, cert.Subject.CommonName)
			}
			return id, nil
		}
	}
	return "", errors.New("das Zertifikat nennt kein Amtsnetz-Mitglied")
}

// Fingerprint is the SHA-256 of a certificate (hex), how directories and
// logs name it.
func Fingerprint(cert *x509.Certificate) string {
	s := sha256.Sum256(cert.Raw)
	return fmt.Sprintf("%x", s[:])
}

// CipherSuites are the TLS 1.2 suites allowed: ECDHE with AES-GCM (BSI
// TR-02102-2). TLS 1.3's suites are all AEAD; Go picks AES-GCM on
// hardware with AES support, and only AES-GCM under GODEBUG=fips140=on.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

// curves are the key exchange groups: the NIST curves of TR-02102 (and
// X25519 with ML-KEM where both ends offer it, which TR-02102-2 2025 names
// as a hybrid).
var curves = []tls.CurveID{tls.X25519MLKEM768, tls.CurveP256, tls.CurveP384}

// ServerTLS is the TLS configuration of a node that serves members: its
// certificate, and every client must present a member certificate of the
// Amtsnetz CA.
func ServerTLS(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        roots,
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     CipherSuites,
		CurvePreferences: curves,
	}
}

// ClientTLS is the TLS configuration of a node that calls another: its
// member certificate, and the other node's certificate must be of the
// Amtsnetz CA and name serverName.
func ClientTLS(cert tls.Certificate, roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		Certificates:     []tls.Certificate{cert},
		RootCAs:          roots,
		ServerName:       serverName,
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     CipherSuites,
		CurvePreferences: curves,
	}
}

// CertPEM encodes a certificate.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes a private key (PKCS #8).
func KeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertPEM reads the first certificate of a PEM file.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("kein Zertifikat im PEM-Format gefunden")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// ParseKeyPEM reads a PKCS #8 (or SEC 1) private key.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("kein privater Schlüssel im PEM-Format gefunden")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("Schlüsseltyp %T kann nicht signieren", k)
		}
		return s, nil
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

// LoadCA reads a CA from its certificate and key PEM.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("das Zertifikat ist keine Zertifizierungsstelle")
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("Schlüssel und Zertifikat der Zertifizierungsstelle passen nicht zusammen")
	}
	return &CA{Cert: cert, Key: key}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
