package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// writeCert creates a self-signed ECDSA P-256 certificate for 127.0.0.1.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rathaus-test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	env := map[string]string{
		"RATHAUS_DATABASE_URL": storetest.URL(t, store.SQLite),
		"RATHAUS_TLS_CERT":     certFile,
		"RATHAUS_TLS_KEY":      keyFile,
	}
	s := start(t, modeServe, nil, env)
	if s.base[:8] != "https://" {
		t.Fatalf("base URL %q, want https", s.base)
	}
	client := func(min, max uint16) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, MinVersion: min, MaxVersion: max}}}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		res, err := client(v, v).Get(s.base + "/healthz")
		if err != nil {
			t.Fatalf("%s: %v", tls.VersionName(v), err)
		}
		res.Body.Close()
		if hsts := res.Header.Get("Strict-Transport-Security"); hsts == "" {
			t.Errorf("%s: no HSTS header over TLS", tls.VersionName(v))
		}
		if res.TLS == nil || res.TLS.Version != v {
			t.Errorf("negotiated %v, want %s", res.TLS, tls.VersionName(v))
		}
	}
	if _, err := client(tls.VersionTLS10, tls.VersionTLS11).Get(s.base + "/healthz"); err == nil {
		t.Error("TLS 1.1 was accepted")
	}
	// TLS 1.2 with a CBC suite only: refused (BSI TR-02102-2 wants AEAD).
	cbc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}}}
	if _, err := cbc.Get(s.base + "/healthz"); err == nil {
		t.Error("a CBC cipher suite was accepted")
	}
}
