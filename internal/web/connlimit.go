package web

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ConnLimit is a listener that keeps at most Max connections open. Beyond
// that, a new connection gets a short "503 Service Unavailable" with
// Retry-After and is closed at once (on a TLS listener it is only closed,
// because the answer would have to be encrypted): it costs a write, not a
// goroutine, buffers and a slot in the admission queue. Admission control
// (Admission) bounds the requests being served; this bounds the
// connections, so that the memory of a server flooded by clients that open
// ever more connections stays bounded too.
type ConnLimit struct {
	net.Listener
	Max   int
	Plain bool // HTTP without TLS: refused connections get the 503 text

	open     atomic.Int64
	refused  atomic.Int64
	once     sync.Once
	refusers chan struct{}
}

// NewConnLimit wraps ln. plain: the server speaks HTTP without TLS.
func NewConnLimit(ln net.Listener, max int, plain bool) *ConnLimit {
	return &ConnLimit{Listener: ln, Max: max, Plain: plain}
}

// connRefusal is the whole answer to a connection over the limit.
var connRefusal = func() []byte {
	body := "Rathaus ist gerade stark ausgelastet. Bitte versuchen Sie es in einigen Sekunden noch einmal.\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Cache-Control: no-store\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// Accept returns the next connection within the limit; those over it are
// answered and closed here.
func (l *ConnLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= int64(l.Max) {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refused.Add(1)
		if !l.Plain {
			c.Close()
			continue
		}
		// The answer goes out, then the connection is half-closed and
		// what the client sent is read away briefly before the close: a
		// close with unread data would send a reset, which can destroy
		// the answer before the client reads it. At most refusers of
		// these run at once; beyond that a connection is just closed.
		select {
		case l.refusing() <- struct{}{}:
			go func() {
				defer func() { <-l.refusers }()
				c.SetDeadline(time.Now().Add(200 * time.Millisecond))
				// The request head is read first: an HTTP client that
				// finds an answer on a connection before it has sent
				// its request discards it as unsolicited.
				readHead(c)
				c.Write(connRefusal)
				if tc, ok := c.(interface{ CloseWrite() error }); ok {
					tc.CloseWrite()
				}
				io.Copy(io.Discard, io.LimitReader(c, 64<<10))
				c.Close()
			}()
		default:
			c.Close()
		}
	}
}

// readHead reads until the end of a request head (an empty line), at most
// 8 KiB, or until the connection's deadline.
func readHead(c net.Conn) {
	var buf [8 << 10]byte
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if bytes.Contains(buf[max(0, n-m-3):n], []byte("\r\n\r\n")) || err != nil {
			return
		}
	}
}

// refusers bounds the goroutines that answer refused connections.
const refusers = 256

func (l *ConnLimit) refusing() chan struct{} {
	l.once.Do(func() { l.refusers = make(chan struct{}, refusers) })
	return l.refusers
}

// Open is the number of connections open now.
func (l *ConnLimit) Open() int64 { return l.open.Load() }

// Refused is the number of connections refused over the limit.
func (l *ConnLimit) Refused() int64 { return l.refused.Load() }

type limitedConn struct {
	net.Conn
	l    *ConnLimit
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
