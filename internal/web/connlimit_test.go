package web

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Connections over the limit get a 503 with Retry-After and are closed;
// once one within the limit closes, a new one is served again.
func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := NewConnLimit(ln, 2, true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(cl)
	defer srv.Close()
	addr := ln.Addr().String()
	get := func(c net.Conn) (int, string) {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After") + "|" + string(b)
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := get(c); code != 200 {
			t.Fatalf("within the limit: %d", code)
		}
		held = append(held, c) // kept open (keep-alive)
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	code, rest := get(over)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(rest, "5|") || !strings.Contains(rest, "ausgelastet") {
		t.Errorf("over the limit: %d %q", code, rest)
	}
	over.Close()
	if cl.Refused() != 1 || cl.Open() != 2 {
		t.Errorf("refused %d, open %d; want 1, 2", cl.Refused(), cl.Open())
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for cl.Open() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	again, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if code, _ := get(again); code != 200 {
		t.Errorf("after one closed: %d, want 200", code)
	}
	held[1].Close()
}
