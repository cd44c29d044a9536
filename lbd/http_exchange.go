package lbd

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// turnAround is HAProxy's pause before retrying a connection to the same
// server after a failure (capped by "timeout connect").
const turnAround = time.Second

// exchange picks a server (cookie first, then the balancer), connects with
// HAProxy's retry and redispatch logic, sends the request and reads the
// response head. On failure resp is nil and code is the status to answer.
func (c *clientConn) exchange(tx *txn, be *Backend, pers persistence, req *Request, sc *serverConn) (*Server, *serverConn, *Response, int) {
	var srv *Server
	if pers.srv != nil && pers.srv.Up() {
		srv = pers.srv
	} else {
		srv = be.Balancer.Pick(tx.src.Addr(), nil)
	}
	if srv == nil {
		return nil, sc, nil, 503
	}
	tx.log.withWait = true
	for attempt := 0; ; attempt++ {
		tx.srv = srv
		tx.log.retries = attempt
		srv.total.Add(1)
		resp, nsc, err := c.tryServer(be, srv, req, sc, tx.log)
		sc = nil
		if err == nil {
			if n := srv.cur.Add(1); n > srv.max.Load() {
				srv.max.Store(n)
			}
			return srv, nsc, resp, 0
		}
		if !errors.Is(err, errConnect) {
			return srv, nil, nil, be.responseFailed(srv, err)
		}
		next, wait, giveUp := be.connectFailed(srv, attempt, tx.src.Addr())
		if giveUp {
			return srv, nil, nil, 503
		}
		srv = next
		time.Sleep(wait)
	}
}

// connectFailed counts a failed connection to srv at attempt (0 the
// first) and tells what follows, as HAProxy's retries and redispatch
// decide: give up (503), or try next after wait (another server at once
// on the last retry with option redispatch, else the same one after the
// turn-around pause).
func (be *Backend) connectFailed(srv *Server, attempt int, src netip.Addr) (next *Server, wait time.Duration, giveUp bool) {
	srv.failedConn.Add(1)
	be.Balancer.Release(srv)
	retries := be.Cfg.Retries
	if attempt >= retries {
		return nil, 0, true
	}
	if be.Cfg.Redispatch && attempt == retries-1 {
		if other := be.Balancer.Pick(src, srv); other != nil && other != srv {
			srv.redisp.Add(1)
			return other, 0, false
		}
	}
	srv.retried.Add(1)
	wait = turnAround
	if ct := be.Cfg.Timeouts.Connect; ct > 0 && ct < wait {
		wait = ct
	}
	return srv, wait, false
}

// responseFailed counts a server that failed to answer (err) and returns
// the status to answer with: 504 on a timeout, else 502.
func (be *Backend) responseFailed(srv *Server, err error) int {
	srv.failedResp.Add(1)
	be.Balancer.Release(srv)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 504
	}
	return 502
}

// tryServer sends req to srv, on sc when it is a kept connection to srv.
// A kept connection that turns out closed is replaced once.
func (c *clientConn) tryServer(be *Backend, srv *Server, req *Request, sc *serverConn, l *reqLog) (*Response, *serverConn, error) {
	t0 := time.Now()
	nsc, err := c.connect(be, srv, sc)
	if err != nil {
		return nil, nil, err
	}
	l.tc = 0
	if !nsc.used {
		l.tc = ms(time.Since(t0))
	}
	resp, retryable, err := c.roundTrip(be, nsc, req, l)
	if err == nil {
		return resp, nsc, nil
	}
	nsc.close()
	if !retryable {
		return nil, nil, err
	}
	t0 = time.Now()
	nsc, err = c.connect(be, srv, nil)
	if err != nil {
		return nil, nil, err
	}
	l.tc = ms(time.Since(t0))
	resp, _, err = c.roundTrip(be, nsc, req, l)
	if err != nil {
		nsc.close()
		return nil, nil, err
	}
	return resp, nsc, nil
}

var errConnect = errors.New("connection to server failed")

// reuse tells which pooled server connections the request in progress
// may take under the backend's http-reuse strategy (see reuseFor).
func (c *clientConn) reuse(be *Backend) reuseKind {
	return reuseFor(be.Cfg.HTTPReuse, c.requests > 1)
}

// connect returns a connection to srv, reusing sc when it goes there.
// Otherwise it takes a pooled one as the backend's http-reuse strategy
// allows, as HAProxy does: "never" shares none (a connection stays with
// its client connection), "safe" (the default) sends the first request
// of a client connection over a connection of its own and later ones over
// any, "aggressive" lets a first request take a connection already reused
// once, "always" any.
func (c *clientConn) connect(be *Backend, srv *Server, sc *serverConn) (*serverConn, error) {
	if sc != nil && sc.srv == srv {
		return sc, nil
	}
	sc.close()
	if idle := srv.getIdle(c.reuse(be)); idle != nil {
		return idle, nil
	}
	srv.conns.opened()
	conn, err := srv.dial(int(c.dst.Port()), firstSet(be.Cfg.Timeouts.Connect, 30*time.Second))
	if err != nil {
		srv.conns.closedInUse()
		return nil, errors.Join(errConnect, err)
	}
	out := &countWriter{w: conn, idle: be.Cfg.Timeouts.Server}
	return &serverConn{srv: srv, conn: conn, out: out, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(out, 16<<10), rd: readPacer{conn: conn}}, nil
}

// roundTrip sends req on sc and reads the response head. Interim 1xx
// answers (but 101) are passed to an HTTP/1.1 client. A request carrying
// "Expect: 100-continue" has its body sent by a second goroutine while the
// server's answer is awaited, so that a client waiting for "100 Continue"
// gets it, as HAProxy's full-duplex forwarding allows. retryable reports a
// failure on a reused connection before any answer, with no body sent.
func (c *clientConn) roundTrip(be *Backend, sc *serverConn, req *Request, l *reqLog) (*Response, bool, error) {
	reused := sc.used
	sc.used = true
	sc.served++
	srvTO := be.Cfg.Timeouts.Server
	w := sc.bw
	start := sc.out.n + int64(w.Buffered())
	writeRequestHead(w, req)
	count := func() {
		// Request bytes, head included, as HAProxy's bytes_in counts them.
		n := uint64(sc.out.n - start)
		sc.srv.bytesIn.Add(n)
		be.bytesIn.Add(n)
		c.fe.bytesIn.Add(n)
	}
	hasBody := req.chunked || req.length > 0
	var bodyDone chan error
	if hasBody && req.Header.hasToken("Expect", "100-continue") {
		if err := w.Flush(); err != nil {
			return nil, false, err
		}
		bodyDone = make(chan error, 1)
		go func() {
			_, err := writeBody(w, req.Body, req.chunked)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			bodyDone <- err
		}()
	} else {
		_, err := writeBody(w, req.Body, req.chunked)
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		count()
		if err != nil {
			return nil, reused && !hasBody, err
		}
	}
	sc.rd.set(srvTO, false)
	sent := time.Now()
	for {
		resp, err := ReadResponse(sc.br, req.Method)
		if err == nil && !(resp.Status/100 == 1 && resp.Status != 101) {
			l.tr = ms(time.Since(sent))
		}
		if err != nil {
			if bodyDone != nil {
				sc.close()
				<-bodyDone
				count()
			}
			// A reused connection that fails before a valid response
			// (closed by the server, or left dirty) is retried once.
			return nil, reused && !hasBody, err
		}
		if resp.Status/100 == 1 && resp.Status != 101 {
			if req.Proto == "HTTP/1.1" && c.bw != nil {
				fmt.Fprintf(c.bw, "%s %d %s\r\n", resp.Proto, resp.Status, resp.Reason)
				writeHeader(c.bw, resp.Header)
				c.bw.WriteString("\r\n")
				c.bw.Flush()
			}
			continue
		}
		if bodyDone != nil {
			select {
			case err := <-bodyDone:
				count()
				if err != nil {
					return nil, false, err
				}
			case <-time.After(100 * time.Millisecond):
				// The server answered without reading the body: neither
				// connection can carry another request.
				resp.abandoned = true
				go func() {
					<-bodyDone
				}()
			}
		}
		return resp, false, nil
	}
}
