package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"time"
)

// directConn is one keep-alive connection that a worker goroutine drives
// itself (-direct): it writes a request with Request.Write and reads the
// answer with http.ReadResponse, net/http's own wire format both ways.
//
// http.Transport runs two goroutines per connection and hands every request
// and answer between them and the caller. On a machine whose cores the
// server shares with the load tool, that work is taken from the server;
// -direct spends less of it, so the figure says more about the server.
// Plain http only.
type directConn struct {
	addr    string
	timeout time.Duration
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	last    *http.Response
}

func newDirectConn(addr string, timeout time.Duration) *directConn {
	return &directConn{addr: addr, timeout: timeout}
}

// Do sends req and returns its answer. The caller reads the body to its end
// and closes it before the next Do, as with http.Client.
func (c *directConn) Do(req *http.Request) (*http.Response, error) {
	if c.last != nil && c.last.Close {
		c.close()
	}
	c.last = nil
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return nil, err
		}
		c.conn, c.r, c.w = conn, bufio.NewReaderSize(conn, 16<<10), bufio.NewWriterSize(conn, 4<<10)
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := req.Write(c.w); err != nil {
		c.close()
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		c.close()
		return nil, err
	}
	res, err := http.ReadResponse(c.r, req)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("read answer: %w", err)
	}
	c.last = res
	return res, nil
}

func (c *directConn) close() {
	if c.conn != nil {
		c.conn.Close()
	}
	c.conn, c.r, c.w, c.last = nil, nil, nil, nil
}
