package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type node struct {
	cert tls.Certificate
	id   string
}

func member(t *testing.T, ca *CA, id string, hosts ...string) node {
	t.Helper()
	cert, key, err := ca.Issue(Member{ID: id, Org: "Test " + id, Hosts: hosts, Validity: 24 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return node{cert: tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, id: id}
}

// serve starts an HTTPS server of a node with the Amtsnetz's server
// configuration; it answers with the member ID of the client.
func serve(t *testing.T, n node, roots *x509.CertPool) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLS(n.cert, roots))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := MemberID(r.TLS.PeerCertificates[0])
		if err != nil {
			http.Error(w, err.Error(), 403)
			return
		}
		io.WriteString(w, id)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func call(addr string, cfg *tls.Config) (string, error) {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
	res, err := c.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b), nil
}

func TestMutualTLS(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("Amtsnetz Test", now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	provider := member(t, ca, "KOMMUNE:110000000000:meldebehoerde", "melde.test", "127.0.0.1")
	consumer := member(t, ca, "KOMMUNE:110000000000:parken", "parken.test")
	addr := serve(t, provider, roots)

	got, err := call(addr, ClientTLS(consumer.cert, roots, "melde.test"))
	if err != nil || got != consumer.id {
		t.Fatalf("member call: %q, %v; want the consumer's ID", got, err)
	}
	// Refused: no client certificate, one of another CA, a wrong host
	// name, TLS 1.1, a CBC suite.
	other, _ := NewCA("Fremdes Netz", now, 48*time.Hour)
	stranger := member(t, other, "KOMMUNE:999", "x.test")
	for name, cfg := range map[string]*tls.Config{
		"no client certificate": {RootCAs: roots, ServerName: "melde.test", MinVersion: tls.VersionTLS12},
		"other CA":              ClientTLS(stranger.cert, roots, "melde.test"),
		"wrong host name":       ClientTLS(consumer.cert, roots, "kasse.test"),
		"TLS 1.1": {Certificates: []tls.Certificate{consumer.cert}, RootCAs: roots, ServerName: "melde.test",
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
		"CBC suite": {Certificates: []tls.Certificate{consumer.cert}, RootCAs: roots, ServerName: "melde.test",
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}},
	} {
		if got, err := call(addr, cfg); err == nil {
			t.Errorf("%s: accepted (%q)", name, got)
		}
	}
	// The consumer refuses a server of another CA.
	fake := serve(t, member(t, other, "KOMMUNE:110000000000:meldebehoerde", "melde.test", "127.0.0.1"), roots)
	if _, err := call(fake, ClientTLS(consumer.cert, roots, "melde.test")); err == nil {
		t.Error("a node of another CA was trusted")
	}
	// What the client's TLS 1.3 connection uses: an AES-GCM suite.
	conn, err := tls.Dial("tcp", addr, ClientTLS(consumer.cert, roots, "melde.test"))
	if err != nil {
		t.Fatal(err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if st.Version != tls.VersionTLS13 || !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "AES") {
		t.Logf("negotiated %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	if st.Version < tls.VersionTLS12 {
		t.Errorf("negotiated %s", tls.VersionName(st.Version))
	}
}

func TestKeysAndNames(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA("Amtsnetz Test", now, 48*time.Hour)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, tc := range map[string]struct {
		m    Member
		want string
	}{
		"RSA 2048":      {Member{ID: "KOMMUNE:1", Org: "x", Hosts: []string{"a"}, Validity: time.Hour, Key: &rsa2048.PublicKey}, "3072"},
		"P-224":         {Member{ID: "KOMMUNE:1", Org: "x", Hosts: []string{"a"}, Validity: time.Hour, Key: &p224.PublicKey}, "P-256"},
		"bad member ID": {Member{ID: "kommune 1", Org: "x", Hosts: []string{"a"}, Validity: time.Hour}, "KLASSE:KENNUNG"},
		"no host":       {Member{ID: "KOMMUNE:1", Org: "x", Validity: time.Hour}, "Hostname"},
		"ten years":     {Member{ID: "KOMMUNE:1", Org: "x", Hosts: []string{"a"}, Validity: 3650 * 24 * time.Hour}, "drei Jahre"},
	} {
		if _, _, err := ca.Issue(tc.m, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
	cert, key, err := ca.Issue(Member{ID: "KASSE:berlin", Org: "Landeshauptkasse", Hosts: []string{"kasse.test"}, Validity: time.Hour, Key: &p384.PublicKey}, now)
	if err != nil || key != nil {
		t.Fatalf("issue for the member's own P-384 key: %v (key made: %v)", err, key != nil)
	}
	if id, err := MemberID(cert); err != nil || id != "KASSE:berlin" {
		t.Errorf("MemberID = %q, %v", id, err)
	}
	// The CA survives a round trip through PEM; a foreign key does not fit.
	keyPEM, _ := KeyPEM(ca.Key)
	if _, err := LoadCA(CertPEM(ca.Cert), keyPEM); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := KeyPEM(p384)
	if _, err := LoadCA(CertPEM(ca.Cert), otherKey); err == nil {
		t.Error("a CA certificate with another key loaded")
	}
}
