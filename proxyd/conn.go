package proxyd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// clientConn is one accepted client connection. Its reader and writer
// come from pools while it has a request to serve; idle, it holds only
// the small buffer of in.
type clientConn struct {
	id     uint64
	nc     net.Conn
	in     *pendingReader // what br reads from (goroutine path only)
	dw     deadlineWriter
	br     *bufio.Reader
	bw     *bufio.Writer
	remote netip.AddrPort
	// remoteText is remote's address as text, once asked for
	remoteText string
	local      netip.AddrPort
	requests   int
	rt         *runtime // configuration the connection was accepted under
	// keepalive is how long to wait for the next request
	keepalive time.Duration
	// waiting holds how many requests the connection had served when it
	// began waiting for the next one, plus one; 0 while busy
	waiting  atomic.Int64
	hijacked bool // buffers still used by a tunnel; not pooled
}

// remoteAddr is $remote_addr, rendered once per connection.
func (c *clientConn) remoteAddr() string {
	if c.remoteText == "" {
		c.remoteText = c.remote.Addr().String()
	}
	return c.remoteText
}

// clientHeaderTimeout is nginx's client_header_timeout default.
const clientHeaderTimeout = 60 * time.Second

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// serve reads requests until the connection should close: the client
// asked, an error happened, the keep-alive timeout expired, or the
// configuration it runs under was replaced (reload) or stopped.
func (c *clientConn) serve(ctx context.Context) {
	for {
		wait := c.keepalive
		if c.requests == 0 {
			wait = clientHeaderTimeout
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		// wait idle for the first byte of a request; a reload or a
		// graceful stop closes idle connections
		c.waiting.Store(int64(c.requests) + 1)
		if c.rt.closesWaiting(c.requests) {
			return
		}
		err := c.awaitRequest()
		c.waiting.Store(0)
		if err != nil {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(clientHeaderTimeout))
		start := time.Now()
		req, err := readRequest(c.br)
		if errors.Is(err, errIdleClose) {
			return
		}
		c.requests++
		x := &exchange{c: c, req: req, start: start, keepAlive: false}
		var he *httpError
		if errors.As(err, &he) {
			if req != nil && req.line == "" {
				req = nil
				x.req = nil
			}
			c.rt.reject(x, he)
			return
		}
		if err != nil {
			return
		}
		x.keepAlive = req.keepAlive
		c.rt.handle(ctx, x)
		if !c.afterExchange(x) {
			return
		}
	}
}

// afterExchange flushes the response and tells whether the connection
// waits for another request.
func (c *clientConn) afterExchange(x *exchange) bool {
	if x.hijacked {
		c.hijacked = true
		return false
	}
	if err := c.bw.Flush(); err != nil || !x.keepAlive {
		return false
	}
	c.keepalive = x.keepaliveTimeout
	return c.keepalive > 0 && !c.rt.draining()
}

// idleBufferSize is what an idle connection reads the start of its next
// request into: nginx's client_header_buffer_size default.
const idleBufferSize = 1024

// pendingReader reads the bytes a connection read while it was idle, then
// from the connection.
type pendingReader struct {
	nc      net.Conn
	pending []byte
	buf     [idleBufferSize]byte
}

func (r *pendingReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.nc.Read(p)
}

// awaitRequest waits for the start of the next request. Unless bytes of
// it are already buffered (pipelining), the pooled reader and writer go
// back first and the wait reads into the connection's small buffer: an
// idle keep-alive connection then holds about 1 KiB, as with nginx, not
// a reader and a writer. Busy connections pay no extra system call.
func (c *clientConn) awaitRequest() error {
	if c.br != nil && c.br.Buffered() > 0 {
		return nil
	}
	c.releaseBuffers()
	n, err := c.nc.Read(c.in.buf[:])
	if n == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	c.in.pending = c.in.buf[:n]
	c.br = getReader(&cReaderPool, c.in)
	c.bw = getWriter(&c.dw)
	return nil
}

// releaseBuffers gives the reader and writer back to their pools; the
// writer must have been flushed.
func (c *clientConn) releaseBuffers() {
	if c.br != nil {
		putReader(&cReaderPool, c.br)
		c.br = nil
	}
	if c.bw != nil {
		putWriter(c.bw)
		c.bw = nil
	}
}

// sendContinue answers "Expect: 100-continue" when nginx would: as it
// starts reading or discarding the body of an HTTP/1.1 request. nginx
// counts these bytes in $body_bytes_sent too.
func (x *exchange) sendContinue() {
	r := x.req
	if r == nil || !r.expect100 || r.minor < 1 || x.continued {
		return
	}
	x.continued = true
	n, _ := x.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = x.c.bw.Flush()
	x.bodySent += int64(n)
	x.bytesSent += int64(n)
}

// discardBody reads and drops an unread request body so the connection
// can serve the next request; it reports whether that worked.
func (x *exchange) discardBody() bool {
	r := x.req
	if r == nil {
		return false
	}
	// nginx answers Expect before looking at whether there is a body
	x.sendContinue()
	if r.chunked {
		_ = x.c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, io.LimitReader(&chunkedBody{br: x.c.br}, 1<<20+1))
		x.reqLength += n
		x.bodyRead = true
		return err == nil && n <= 1<<20
	}
	if r.contentLen <= 0 {
		return true
	}
	if r.contentLen > 1<<20 {
		return false
	}
	_ = x.c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.CopyN(io.Discard, x.c.br, r.contentLen)
	x.reqLength += n
	r.contentLen = 0
	x.bodyRead = true
	return err == nil
}
