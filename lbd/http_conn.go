package lbd

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"halab/internal/evloop"
	"halab/lbd/haproxycfg"
)

// serverConn is a connection to a server kept across requests of one
// client connection (HAProxy's default "http-reuse safe" behaviour).
type serverConn struct {
	srv  *Server
	conn net.Conn
	out  *countWriter
	br   *bufio.Reader
	bw   *bufio.Writer
	used bool // already carried a request: a failure may be a stale close
	// served counts the requests sent on the connection.
	served int
	rd     readPacer
	pooled bool // in its server's pool (guarded by the server's lock)
	closed atomic.Bool
}

// close closes a connection that is not pooled (see connCounts).
func (sc *serverConn) close() {
	if sc != nil && !sc.closed.Swap(true) {
		sc.srv.conns.closedInUse()
		closeServerConn(sc.conn)
	}
}

// closeConn closes a connection taken out of the pool to be closed.
func (sc *serverConn) closeConn() {
	if !sc.closed.Swap(true) {
		closeServerConn(sc.conn)
	}
}

// closeServerConn closes a connection to a server as HAProxy closes its
// outgoing connections: with a reset unless the server has already
// closed its side, so that the balancer keeps no TIME_WAIT for it.
func closeServerConn(c net.Conn) {
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				var b [1]byte
				if n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT); n == 0 && err == nil {
					return // the server's end has come
				}
				_ = evloop.SetLinger0(int(fd))
			})
		}
	}
	_ = c.Close()
}

// firstSet returns the first non-zero duration.
func firstSet(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

// serveHTTP runs the HTTP/1.x keep-alive loop of one client connection.
func (c *clientConn) serveHTTP() { c.serveHTTPFrom(c.conn, true) }

// serveHTTPFrom runs the keep-alive loop reading from r, the connection
// or bytes received before it (a connection handed over by the event
// loop); first tells whether a request came before.
func (c *clientConn) serveHTTPFrom(r io.Reader, first bool) {
	fe := c.fe
	pools := &fe.in.bufs
	br := pools.getReader(r)
	c.out = &countWriter{w: c.conn, idle: fe.Cfg.Timeouts.Client}
	bw := pools.getWriter(c.out)
	c.bw = bw
	defer func() {
		if !c.bodyLeft {
			pools.putReader(br)
			pools.putWriter(bw)
		}
	}()
	var sc *serverConn
	defer func() { sc.close() }()
	t := fe.Cfg.Timeouts
	for ; ; first = false {
		idleTO := firstSet(t.HTTPRequest, t.Client)
		if !first {
			idleTO = firstSet(t.HTTPKeepAlive, t.HTTPRequest, t.Client)
		}
		c.readTimeout(idleTO)
		if !c.setIdle(true) {
			return
		}
		if !first && fe.in.isStopping() {
			grace := drainGrace
			if idleTO > 0 && idleTO < grace {
				grace = idleTO
			}
			c.conn.SetReadDeadline(time.Now().Add(grace))
		}
		_, err := br.Peek(1)
		if !c.setIdle(false) || err != nil {
			if first && err != nil {
				// HAProxy counts a connection closed or timed out before
				// its first request as a failed request (400 or 408).
				l := newReqLog(time.Now())
				l.badReq, l.status, l.term = true, 400, "CR"
				if errors.Is(err, os.ErrDeadlineExceeded) {
					l.status, l.term = 408, "cR"
					writeRawError(bw, 408, false)
				}
				fe.reqTotal.Add(1)
				fe.reqErr.Add(1)
				fe.countStatus(l.status)
				if !fe.Cfg.DontLogNull {
					c.emitLog(l)
				}
			}
			return
		}
		fe.reqTotal.Add(1)
		start := time.Now()
		c.readTimeout(firstSet(t.HTTPRequest, t.Client))
		req, err := ReadRequest(br)
		c.requests++
		if err != nil {
			fe.reqErr.Add(1)
			code := 400
			if errors.Is(err, os.ErrDeadlineExceeded) {
				code = 408
			}
			fe.countStatus(code)
			writeRawError(bw, code, false)
			l := newReqLog(start)
			l.badReq, l.status, l.term = true, code, "PR"
			if code == 408 {
				l.term = "cR"
			}
			c.emitLog(l)
			return
		}
		hdrs := time.Now()
		if !singleHost(req.Header) {
			fe.reqErr.Add(1)
			fe.countStatus(400)
			writeRawError(bw, 400, true)
			l := newReqLog(start)
			l.badReq, l.status, l.term = true, 400, "PR"
			c.emitLog(l)
			return
		}
		c.readTimeout(t.Client)
		req.Body = &idleReader{r: req.Body, pacer: &c.rd, idle: t.Client}
		keep, nsc := c.handle(req, bw, sc, start, hdrs)
		sc = nsc
		if err := bw.Flush(); err != nil || !keep {
			return
		}
	}
}

// readTimeout gives the client d to bring data, 0 meaning no limit. A
// stopping instance may have shortened the deadline (drainIdle): it is
// then always set anew.
func (c *clientConn) readTimeout(d time.Duration) {
	c.rd.set(d, c.fe.in.isStopping())
}

// clientKeepAlive tells whether the client wants the connection kept.
func clientKeepAlive(req *Request) bool {
	if req.Proto == "HTTP/1.0" {
		return req.Header.hasToken("Connection", "keep-alive")
	}
	return !req.Header.hasToken("Connection", "close")
}

// handle processes one request and returns whether the client connection
// stays open, and the server connection to keep for the next request.
func (c *clientConn) handle(req *Request, bw *bufio.Writer, sc *serverConn, start, hdrs time.Time) (bool, *serverConn) {
	tx := c.newTxn(req, bw, start, hdrs)
	// The log line goes out before the response's last bytes, so that
	// lines keep the order of the requests (serveHTTP flushes).
	defer c.endTxn(tx, bw)
	if c.begin(tx, bw) {
		return tx.keep, sc
	}
	srv, sc, resp, code := c.exchange(tx, tx.be, tx.pers, req, sc)
	c.noteServer(tx, srv)
	if resp == nil {
		drain(req.Body)
		return c.answerFailure(tx, bw, code), sc
	}
	if resp.abandoned {
		// A goroutine may still read the request body from br.
		tx.keep = false
		c.bodyLeft = true
	}
	sent := c.out.n + int64(bw.Buffered())
	serverKeep := c.respondHead(tx, bw, srv, resp)
	_, err := writeBody(bw, &idleReader{r: resp.Body, pacer: &sc.rd, idle: tx.be.Cfg.Timeouts.Server}, resp.chunked)
	c.serverDone(tx, bw, srv, sent)
	if err != nil {
		sc.close()
		return false, nil
	}
	if !serverKeep || sc.br.Buffered() != 0 {
		sc.close()
		return tx.keep, nil
	}
	if tx.be.Cfg.HTTPReuse == "never" {
		// the connection stays with its client connection
		return tx.keep, sc
	}
	srv.putIdle(sc)
	return tx.keep, nil
}

// requestRules runs the http-request rules of a proxy. It reports whether
// the request was answered (deny, use-service) and if the connection stays.
func (c *clientConn) requestRules(tx *txn, px *haproxycfg.Proxy, bw *bufio.Writer, keep bool) (bool, bool) {
	for _, r := range px.HTTPRequest {
		if !tx.evalCond(r.Cond) {
			continue
		}
		switch r.Action {
		case "allow":
			return false, keep
		case "deny":
			drain(tx.req.Body)
			c.fe.denied.Add(1)
			c.fe.countStatus(r.Status)
			tx.log.status, tx.log.term = r.Status, "PR"
			return true, writeError(bw, r.Status, keep)
		case "use-service":
			drain(tx.req.Body)
			k := c.servePrometheus(tx, bw, keep)
			c.fe.countStatus(200)
			tx.log.status, tx.log.term, tx.log.server = 200, "LR", "<PROMEX>"
			return true, k
		default:
			applyHeaderRule(r, &tx.req.Header, tx)
		}
	}
	return false, keep
}

// forwardedFor adds X-Forwarded-For as "option forwardfor" asks.
func (c *clientConn) forwardedFor(tx *txn, be *Backend) {
	ff := be.Cfg.ForwardFor
	if ff == nil {
		ff = c.fe.Cfg.ForwardFor
	}
	if ff == nil {
		return
	}
	ip := tx.src.Addr().Unmap()
	if ff.Except != nil && ff.Except.Contains(ip) {
		return
	}
	if _, ok := tx.req.Header.Get(ff.Header); ok && ff.IfNone {
		return
	}
	tx.req.Header.Add(strings.ToLower(ff.Header), ip.String())
}

func drain(r io.Reader) {
	io.CopyN(io.Discard, r, 1<<20)
}

// stripConnTokens removes the "close" and "keep-alive" tokens from the
// Connection fields, dropping fields left empty; other tokens stay.
func stripConnTokens(h *Header) {
	out := (*h)[:0]
	for _, f := range *h {
		if equalFoldASCII(f.Name, "Connection") {
			var keep []string
			for _, t := range strings.Split(f.Value, ",") {
				t = strings.TrimSpace(t)
				if t != "" && !equalFoldASCII(t, "close") && !equalFoldASCII(t, "keep-alive") {
					keep = append(keep, t)
				}
			}
			if len(keep) == 0 {
				continue
			}
			f.Value = strings.Join(keep, ", ")
		}
		out = append(out, f)
	}
	*h = out
}

// singleHost reports whether the Host fields, if several, agree; HAProxy
// rejects a request carrying different ones.
func singleHost(h Header) bool {
	first, seen := "", false
	for _, f := range h {
		if !equalFoldASCII(f.Name, "Host") {
			continue
		}
		if seen && f.Value != first {
			return false
		}
		first, seen = f.Value, true
	}
	return true
}
