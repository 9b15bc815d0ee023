package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSMTP is an SMTP server in the test process: EHLO, STARTTLS with a
// certificate of its own, AUTH PLAIN, MAIL, RCPT, DATA, QUIT. It records
// what it was told, and whether it was told it in the clear.
type fakeSMTP struct {
	ln    net.Listener
	tls   *tls.Config
	roots *x509.CertPool

	noStartTLS bool // a server that offers no STARTTLS
	rcptReply  string
	dropOnDot  bool // close the connection instead of answering the final "."

	mu        sync.Mutex
	received  []fakeMessage
	plaintext []string // commands received before TLS
	auth      []string
}

type fakeMessage struct {
	From, To, Data string
}

func newFakeSMTP(t *testing.T) *fakeSMTP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln, roots: roots, rcptReply: "250 ok",
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go f.serve()
	t.Cleanup(func() { ln.Close() })
	return f
}

// config returns the SMTP settings of this server with the given user.
func (f *fakeSMTP) config(t *testing.T, user string) *SMTP {
	t.Helper()
	u := "smtp://" + f.ln.Addr().String()
	if user != "" {
		u = "smtp://" + user + ":geheim%40pw@" + f.ln.Addr().String()
	}
	s, err := ParseSMTPURL(u)
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = f.roots
	return s
}

func (f *fakeSMTP) messages() []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeMessage(nil), f.received...)
}

func (f *fakeSMTP) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

func (f *fakeSMTP) handle(c net.Conn) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(c)
	secure := false
	var from, to string
	tp.PrintfLine("220 fake ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		if !secure {
			f.mu.Lock()
			f.plaintext = append(f.plaintext, line)
			f.mu.Unlock()
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"fake"}
			if !secure && !f.noStartTLS {
				lines = append(lines, "STARTTLS")
			}
			if secure {
				lines = append(lines, "AUTH PLAIN")
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, l)
			}
		case "STARTTLS":
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, f.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, tp, secure = tc, textproto.NewConn(tc), true
		case "AUTH":
			f.mu.Lock()
			f.auth = append(f.auth, arg)
			f.mu.Unlock()
			tp.PrintfLine("235 authenticated")
		case "MAIL":
			from = arg
			tp.PrintfLine("250 ok")
		case "RCPT":
			to = arg
			tp.PrintfLine("%s", strings.ReplaceAll(f.rcptReply, "$TO", strings.TrimPrefix(arg, "TO:")))
		case "DATA":
			tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.received = append(f.received, fakeMessage{From: from, To: to, Data: string(data)})
			f.mu.Unlock()
			if f.dropOnDot {
				return // taken, but the answer is lost
			}
			tp.PrintfLine("250 queued")
		case "RSET", "NOOP":
			tp.PrintfLine("250 ok")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 unknown")
		}
	}
}
