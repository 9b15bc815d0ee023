package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SMTP is the server messages are sent through. TLS is required: smtp://
// must offer STARTTLS (a server that does not gets nothing, not even the
// password), smtps:// speaks TLS from the start. Certificates are checked
// against the host name.
type SMTP struct {
	Host        string
	Port        string
	Username    string // empty: no authentication
	Password    string
	ImplicitTLS bool // smtps://
	// RootCAs verify the server's certificate; nil: the system's roots.
	RootCAs *x509.CertPool
}

// ParseSMTPURL reads smtp://USER:PASSWORD@HOST:PORT (STARTTLS, port 587 by
// default) or smtps://USER:PASSWORD@HOST:PORT (implicit TLS, port 465).
// Its errors never quote the URL: it holds a password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("SMTP-URL nicht lesbar (erwartet smtp://BENUTZER:PASSWORT@HOST:PORT)")
	}
	s := &SMTP{Host: u.Hostname(), Port: u.Port()}
	switch u.Scheme {
	case "smtp":
		if s.Port == "" {
			s.Port = "587"
		}
	case "smtps":
		s.ImplicitTLS = true
		if s.Port == "" {
			s.Port = "465"
		}
	default:
		return nil, errors.New("SMTP-URL: erwartet smtp:// (mit STARTTLS) oder smtps://")
	}
	if s.Host == "" {
		return nil, errors.New("SMTP-URL: der Host fehlt")
	}
	if n, err := strconv.Atoi(s.Port); err != nil || n < 1 || n > 65535 {
		return nil, errors.New("SMTP-URL: ungültiger Port")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("SMTP-URL: nach HOST:PORT folgt nichts mehr")
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

// sendError says at which step sending failed and whether the message may
// have reached the server anyway.
type sendError struct {
	step      string
	code      int  // SMTP reply code, 0 for other errors
	permanent bool // a 5xx reply: retrying will not help
	uncertain bool // the server may have accepted the message
	err       error
}

func (e *sendError) Error() string {
	if e.code != 0 {
		return fmt.Sprintf("%s: SMTP-Antwort %d %s", e.step, e.code, scrub(e.err.Error()))
	}
	return e.step + ": " + scrub(e.err.Error())
}

func (e *sendError) Unwrap() error { return e.err }

func failAt(step string, err error) *sendError {
	e := &sendError{step: step, err: err}
	var te *textproto.Error
	if errors.As(err, &te) {
		e.code, e.err = te.Code, errors.New(te.Msg)
		e.permanent = te.Code >= 500
	}
	return e
}

// addressLike matches anything that looks like an e-mail address: server
// replies quote the recipient ("550 <x@y>: no such user"), and such text
// goes to logs and to the outbox note.
var addressLike = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)

func scrub(s string) string { return addressLike.ReplaceAllString(s, "[Adresse]") }

// send delivers one message. Every error before the end of DATA means the
// server has not taken the message; only a lost answer to the final "."
// leaves it uncertain.
func (s *SMTP) send(ctx context.Context, from *netmail.Address, id string, m Message, now time.Time) error {
	msg := compose(from, id, m, now)
	addr := net.JoinHostPort(s.Host, s.Port)
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return failAt("Verbindung", err)
	}
	defer conn.Close()
	deadline := time.Now().Add(90 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	tlsConfig := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}
	if s.ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return failAt("TLS", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return failAt("Begrüßung", err)
	}
	defer c.Close()
	if !s.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &sendError{step: "STARTTLS", err: errors.New("der Server bietet kein STARTTLS an; unverschlüsselt wird nicht gesendet")}
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return failAt("STARTTLS", err)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return &sendError{step: "Anmeldung", err: errors.New("der Server bietet keine Anmeldung (AUTH) an")}
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return failAt("Anmeldung", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return failAt("Absender", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return failAt("Empfänger", err)
	}
	w, err := c.Data()
	if err != nil {
		return failAt("Daten", err)
	}
	if _, err := w.Write(msg); err != nil {
		return failAt("Daten", err) // without the final "." the server discards it
	}
	if err := w.Close(); err != nil {
		e := failAt("Abschluss", err)
		e.uncertain = e.code == 0 // no answer: the server may have taken it
		return e
	}
	c.Quit() // the message is accepted; a failing QUIT changes nothing
	return nil
}

// compose writes the message: UTF-8 plain text, quoted-printable, with the
// headers a receiving server expects.
func compose(from *netmail.Address, id string, m Message, now time.Time) []byte {
	var b bytes.Buffer
	domain := "localhost"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		domain = from.Address[at+1:]
	}
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+id+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.Body, "\r\n", "\n")))
	qp.Close()
	return b.Bytes()
}
