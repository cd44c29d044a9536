package lbd

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"halab/internal/evloop"
)

// loopState is where a loop connection is in its transaction.
type loopState uint8

const (
	stHead     loopState = iota // waiting for or reading a request head
	stConnect                   // connecting to a server
	stTurn                      // pausing before the next connection attempt
	stWaitResp                  // request sent, waiting for the response head
	stBody                      // relaying the response body
	stClosing                   // flushing the last bytes before closing
	stClosed
)

// loopClient is a client connection driven by the loop, with the
// transaction in progress on it.
type loopClient struct {
	evloop.Peer
	hl       *httpLoop
	c        *clientConn
	st       loopState
	first    bool          // no request yet
	bw       *bufio.Writer // to the client, over c.out, during a transaction
	timer    *evloop.Timer
	reqStart time.Time // when the head in progress began to arrive

	// the transaction
	tx         *txn
	srv        *Server
	attempt    int
	sc         *loopServer
	reconnect  bool      // the one retry of a reused connection was made
	connStart  time.Time // of the connection attempt in progress
	sentAt     time.Time // when the request was sent
	reused     bool      // the request went over a reused connection
	resp       *Response
	sent       int64 // client bytes before the response head
	serverKeep bool
	chunks     chunkDecoder
	left       int64 // body bytes left (fixed length)
}

// Ready handles the client socket's events.
func (lc *loopClient) Ready(ev uint32) {
	lc.Event(ev)
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		lc.flushed()
		if lc.st == stClosed {
			return
		}
	}
	if lc.st == stHead {
		lc.readHead()
	}
}

// flushed writes pending output and moves on what waited for room.
func (lc *loopClient) flushed() {
	empty, err := lc.Out.Flush()
	if err != nil {
		lc.clientGone()
		return
	}
	switch lc.st {
	case stClosing:
		if empty {
			lc.close()
		}
	case stBody:
		if len(lc.Out.Pending) < maxPending {
			lc.relay()
		}
	}
}

// clientGone ends a connection whose client can no longer be written to.
func (lc *loopClient) clientGone() {
	if lc.st == stBody {
		lc.bodyFailed()
		return
	}
	lc.close()
}

// close ends the connection and any transaction on it.
func (lc *loopClient) close() {
	if lc.st == stClosed {
		return
	}
	// a server chosen and not released yet is released
	switch lc.st {
	case stBody:
		lc.c.serverDone(lc.tx, lc.bw, lc.srv, lc.sent)
	case stConnect, stWaitResp:
		lc.tx.be.Balancer.Release(lc.srv)
	}
	lc.st = stClosed
	lc.timer.Stop()
	if lc.sc != nil {
		lc.sc.close()
		lc.sc = nil
	}
	lc.In.Release()
	lc.putWriter()
	lc.hl.lp.Close(lc.FD)
	delete(lc.hl.clients, lc)
	lc.c.mu.Lock()
	lc.c.closed = true
	lc.c.mu.Unlock()
	lc.c.fe.closed(lc.c)
}

func (lc *loopClient) getWriter() {
	if lc.bw == nil {
		lc.bw = lc.c.fe.in.bufs.getWriter(lc.c.out)
		lc.c.bw = lc.bw
	}
}

func (lc *loopClient) putWriter() {
	if lc.bw != nil {
		lc.c.fe.in.bufs.putWriter(lc.bw)
		lc.bw, lc.c.bw = nil, nil
	}
}

// idleTimeout is how long the client may take to start a request.
func (lc *loopClient) idleTimeout() time.Duration {
	t := lc.c.fe.Cfg.Timeouts
	d := firstSet(t.HTTPRequest, t.Client)
	if !lc.first {
		d = firstSet(t.HTTPKeepAlive, t.HTTPRequest, t.Client)
	}
	if d <= 0 {
		d = 24 * time.Hour
	}
	if !lc.first && lc.c.fe.in.isStopping() && d > drainGrace {
		d = drainGrace
	}
	return d
}

// drainIdle shortens an idle connection's wait for a request.
func (lc *loopClient) drainIdle() {
	if lc.st == stHead && len(lc.In.Data()) == 0 {
		if !lc.timer.Armed() || lc.hl.lp.Now().Add(drainGrace).Before(lc.timer.When()) {
			lc.timer.Reset(drainGrace)
		}
	}
}

// kick reads the next request once a transaction ended outside readHead
// (from a server's event or a timer).
func (lc *loopClient) kick() {
	if lc.st == stHead {
		lc.readHead()
	}
}

// readHead reads and parses request heads and starts their transactions,
// as long as requests are there and the connection is in stHead.
func (lc *loopClient) readHead() {
	for lc.st == stHead {
		if len(lc.Out.Pending) >= maxPending {
			return // the client reads its answers first
		}
		data := lc.In.Data()
		if len(data) > 0 {
			req, n, err := lc.hl.parseRequest(data)
			switch {
			case err == nil && loopable(req):
				lc.In.Consume(n)
				lc.startTxn(req)
				continue
			case err == nil || !errors.Is(err, evloop.ErrIncomplete) || lc.In.Full():
				lc.handOff()
				return
			}
		}
		switch st, _ := lc.ReadMore(); st {
		case evloop.ReadWait:
			if len(lc.In.Data()) > 0 {
				lc.quickAck()
			}
			return
		case evloop.ReadEnd:
			if len(lc.In.Data()) > 0 {
				// a head cut short: the goroutine path answers it
				lc.handOff()
				return
			}
			lc.endIdle(false)
			return
		}
		if len(data) == 0 {
			// the first bytes of a request: it has "timeout
			// http-request" to arrive whole
			lc.reqStart = lc.hl.lp.Now()
			t := lc.c.fe.Cfg.Timeouts
			if d := firstSet(t.HTTPRequest, t.Client); d > 0 {
				lc.timer.Reset(d)
			} else {
				lc.timer.Stop()
			}
		}
	}
}

// quickAck turns quick acknowledgements back on for a client accepted
// without them (smart-accept) when more of its bytes are awaited, as
// HAProxy does: a client may hold the rest of a head or a body until its
// first bytes are acknowledged (Nagle's algorithm), which a delayed
// acknowledgement would make wait some 40 ms.
func (lc *loopClient) quickAck() {
	if lc.c.fe.Cfg.SmartAccepts() {
		_ = evloop.SetsockoptInt(lc.FD, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	}
}

// loopable tells whether the loop handles req itself: no body, no
// upgrade, a single Host.
func loopable(req *Request) bool {
	if req.length != 0 || req.chunked || req.Method == "CONNECT" {
		return false
	}
	if _, ok := req.Header.Get("Upgrade"); ok {
		return false
	}
	if _, ok := req.Header.Get("Expect"); ok {
		return false
	}
	return singleHost(req.Header)
}

// endIdle ends a connection that brought no request (closed, or idle too
// long: timedOut). HAProxy counts the first one's as a failed request.
func (lc *loopClient) endIdle(timedOut bool) {
	fe := lc.c.fe
	if lc.first {
		l := newReqLog(time.Now())
		l.badReq, l.status, l.term = true, 400, "CR"
		if timedOut {
			l.status, l.term = 408, "cR"
			lc.getWriter()
			writeRawError(lc.bw, 408, false)
		}
		fe.reqTotal.Add(1)
		fe.reqErr.Add(1)
		fe.countStatus(l.status)
		if !fe.Cfg.DontLogNull {
			lc.c.emitLog(l)
		}
	}
	lc.closeAfterFlush()
}

// headTimedOut answers a request head that did not arrive in time.
func (lc *loopClient) headTimedOut() {
	fe := lc.c.fe
	fe.reqTotal.Add(1)
	lc.c.requests++
	fe.reqErr.Add(1)
	fe.countStatus(408)
	lc.getWriter()
	writeRawError(lc.bw, 408, false)
	l := newReqLog(lc.reqStart)
	l.badReq, l.status, l.term = true, 408, "cR"
	lc.c.emitLog(l)
	lc.closeAfterFlush()
}

// closeAfterFlush closes once the pending output is written, within the
// client timeout.
func (lc *loopClient) closeAfterFlush() {
	// the last bytes and the FIN leave together
	lc.Out.LastWrites()
	if lc.bw != nil {
		lc.bw.Flush()
	}
	lc.st = stClosing
	if len(lc.Out.Pending) == 0 || lc.Out.Err != nil {
		lc.close()
		return
	}
	d := lc.c.fe.Cfg.Timeouts.Client
	if d <= 0 {
		d = 24 * time.Hour
	}
	lc.timer.Reset(d)
}

// timeout fires the timer of the current state.
func (lc *loopClient) timeout() {
	switch lc.st {
	case stHead:
		if len(lc.In.Data()) > 0 {
			lc.headTimedOut()
		} else {
			lc.endIdle(true)
		}
	case stConnect:
		lc.connectFailed(os.ErrDeadlineExceeded)
	case stTurn:
		lc.attempt++
		lc.tryServer()
	case stWaitResp:
		lc.roundTripFailed(os.ErrDeadlineExceeded, false)
	case stBody:
		lc.bodyFailed()
	case stClosing:
		lc.close()
	}
	lc.kick()
}

// startTxn runs a request's transaction up to the exchange with a server.
func (lc *loopClient) startTxn(req *Request) {
	c, fe := lc.c, lc.c.fe
	hdrs := lc.hl.lp.Now()
	start := lc.reqStart
	if start.IsZero() {
		start = hdrs
	}
	lc.reqStart = time.Time{}
	lc.first = false
	fe.reqTotal.Add(1)
	c.requests++
	lc.getWriter()
	tx := c.newTxn(req, lc.bw, start, hdrs)
	lc.tx = tx
	if c.begin(tx, lc.bw) {
		lc.endTxn()
		return
	}
	be := tx.be
	if tx.pers.srv != nil && tx.pers.srv.Up() {
		lc.srv = tx.pers.srv
	} else {
		lc.srv = be.Balancer.Pick(tx.src.Addr(), nil)
	}
	if lc.srv == nil {
		c.answerFailure(tx, lc.bw, 503)
		lc.endTxn()
		return
	}
	tx.log.withWait = true
	lc.attempt = 0
	lc.tryServer()
}

// endTxn logs the transaction, flushes its last bytes and goes on with
// the next request or closes.
func (lc *loopClient) endTxn() {
	tx := lc.tx
	lc.tx, lc.resp, lc.srv = nil, nil, nil
	lc.c.endTxn(tx, lc.bw)
	if err := lc.bw.Flush(); err != nil || !tx.keep {
		lc.closeAfterFlush()
		return
	}
	lc.putWriter()
	lc.st = stHead
	lc.timer.Reset(lc.idleTimeout())
}

// tryServer makes one attempt at the chosen server.
func (lc *loopClient) tryServer() {
	tx, srv := lc.tx, lc.srv
	tx.srv = srv
	tx.log.retries = lc.attempt
	srv.total.Add(1)
	lc.reconnect = false
	lc.connect()
}

// connect gets a connection to lc.srv: the one kept from the previous
// request, an idle one as http-reuse allows (see clientConn.connect), or
// a new one.
func (lc *loopClient) connect() {
	srv, be := lc.srv, lc.tx.be
	if sc := lc.sc; sc != nil {
		lc.sc = nil
		if sc.srv == srv && !lc.reconnect {
			lc.useServer(sc)
			return
		}
		sc.close()
	}
	if sc := lc.hl.getIdle(srv, lc.c.reuse(be)); sc != nil {
		lc.useServer(sc)
		return
	}
	lc.connStart = lc.hl.lp.Now()
	port := srv.Cfg.Port
	if port == 0 {
		port = int(lc.c.dst.Port())
	}
	fd, err := evloop.Connect(netip.AddrPortFrom(srv.ip, uint16(port)))
	if err != nil {
		lc.connectFailed(err)
		return
	}
	if be.Cfg.ServerTCPKA {
		_ = evloop.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	}
	sc := &loopServer{hl: lc.hl, Peer: evloop.NewPeer(fd), srv: srv, owner: lc, connecting: true}
	sc.cw = countWriter{w: &sc.Out}
	if err := lc.hl.lp.Add(fd, evloop.EdgeReadWrite, sc); err != nil {
		unix.Close(fd)
		lc.connectFailed(err)
		return
	}
	srv.conns.opened()
	sc.counted = true
	lc.sc = sc
	lc.st = stConnect
	lc.timer.Reset(firstSet(be.Cfg.Timeouts.Connect, 30*time.Second))
	// The request is written at once, as HAProxy does: the kernel takes
	// it once the handshake is over (often already, on a LAN), keeps
	// saying EAGAIN before, and reports a failed connect as the write's
	// error. No wait for writability, no SO_ERROR look.
	lc.send()
}

// useServer sends the request over an established connection.
func (lc *loopClient) useServer(sc *loopServer) {
	sc.owner = lc
	lc.sc = sc
	lc.tx.log.tc = 0
	lc.send()
}

// connectProgress goes on with a connection being established once it is
// writable: the request written, it waits for the answer.
func (lc *loopClient) connectProgress() {
	sc := lc.sc
	if _, err := sc.Out.Flush(); err != nil {
		lc.connectFailed(err)
		return
	}
	if sc.Out.Sent > 0 {
		lc.requestSent()
	}
}

// requestSent waits for the answer to a request the kernel took.
func (lc *loopClient) requestSent() {
	if sc := lc.sc; sc.connecting {
		sc.connecting = false
		lc.tx.log.tc = ms(lc.hl.lp.Now().Sub(lc.connStart))
	}
	lc.st = stWaitResp
	lc.sentAt = lc.hl.lp.Now()
	lc.serverTimer()
	lc.readResponse()
}

// connectFailed is the exchange's connection failure: retry, redispatch
// or give up with 503, as HAProxy does.
func (lc *loopClient) connectFailed(error) {
	if lc.sc != nil {
		lc.sc.close()
		lc.sc = nil
	}
	next, wait, giveUp := lc.tx.be.connectFailed(lc.srv, lc.attempt, lc.tx.src.Addr())
	switch {
	case giveUp:
		lc.failed(503)
	case wait == 0:
		lc.srv = next
		lc.attempt++
		lc.tryServer()
	default:
		lc.srv = next
		lc.st = stTurn
		lc.timer.Reset(wait)
	}
}

// send writes the request head to the server and waits for the answer.
func (lc *loopClient) send() {
	sc, tx := lc.sc, lc.tx
	lc.reused = sc.used
	sc.used = true
	sc.served++
	w := sc.writer()
	start := sc.cw.n + int64(w.Buffered())
	writeRequestHead(w, tx.req)
	err := w.Flush()
	sc.putWriter()
	// Request bytes, head included, as HAProxy's bytes_in counts them.
	n := uint64(sc.cw.n - start)
	sc.srv.bytesIn.Add(n)
	tx.be.bytesIn.Add(n)
	lc.c.fe.bytesIn.Add(n)
	switch {
	case err != nil && sc.connecting:
		lc.connectFailed(err)
	case err != nil:
		lc.roundTripFailed(err, lc.reused)
	case !sc.connecting || sc.Out.Sent > 0:
		lc.requestSent()
	}
}

// serverTimer gives the server "timeout server" to bring data.
func (lc *loopClient) serverTimer() {
	if d := lc.tx.be.Cfg.Timeouts.Server; d > 0 {
		lc.timer.Reset(d)
	} else {
		lc.timer.Stop()
	}
}

// roundTripFailed handles a failure between sending the request and the
// response head: a reused connection is replaced once (it may have been
// closed by the server meanwhile), otherwise 502 or 504.
func (lc *loopClient) roundTripFailed(err error, retryable bool) {
	if lc.sc != nil {
		lc.sc.close()
		lc.sc = nil
	}
	if retryable && !lc.reconnect {
		lc.reconnect = true
		lc.connect()
		return
	}
	lc.failed(lc.tx.be.responseFailed(lc.srv, err))
}

// failed answers the request with code, no server having answered.
func (lc *loopClient) failed(code int) {
	lc.c.noteServer(lc.tx, lc.srv)
	lc.c.answerFailure(lc.tx, lc.bw, code)
	lc.endTxn()
}

// readResponse reads and parses the response head.
func (lc *loopClient) readResponse() {
	sc := lc.sc
	for lc.st == stWaitResp {
		if data := sc.In.Data(); len(data) > 0 {
			resp, n, err := lc.hl.parseResponse(data, lc.tx.req.Method)
			if err == nil {
				sc.In.Consume(n)
				lc.response(resp)
				continue
			}
			if !errors.Is(err, evloop.ErrIncomplete) || sc.In.Full() {
				lc.roundTripFailed(err, lc.reused)
				return
			}
		}
		switch st, err := sc.ReadMore(); st {
		case evloop.ReadWait:
			return
		case evloop.ReadEnd:
			if err == nil {
				err = errors.New("server closed the connection")
			}
			lc.roundTripFailed(err, lc.reused)
			return
		}
	}
}

// response goes on with a parsed response head: an interim one is passed
// on, a final one starts the body.
func (lc *loopClient) response(resp *Response) {
	tx, c := lc.tx, lc.c
	if resp.Status/100 == 1 && resp.Status != 101 {
		if tx.req.Proto == "HTTP/1.1" {
			bw := lc.bw
			fmt.Fprintf(bw, "%s %d %s\r\n", resp.Proto, resp.Status, resp.Reason)
			writeHeader(bw, resp.Header)
			bw.WriteString("\r\n")
			bw.Flush()
		}
		return
	}
	tx.log.tr = ms(lc.hl.lp.Now().Sub(lc.sentAt))
	srv := lc.srv
	if n := srv.cur.Add(1); n > srv.max.Load() {
		srv.max.Store(n)
	}
	c.noteServer(tx, srv)
	lc.resp = resp
	lc.sent = c.out.n + int64(lc.bw.Buffered())
	lc.serverKeep = c.respondHead(tx, lc.bw, srv, resp)
	lc.st = stBody
	lc.chunks = chunkDecoder{}
	lc.left = resp.length
	lc.relay()
}

// relay moves response body bytes from the server to the client until
// the body ends, the server has no more for now, or the client has too
// much pending.
func (lc *loopClient) relay() {
	sc, resp := lc.sc, lc.resp
	for lc.st == stBody {
		if len(lc.Out.Pending) >= maxPending {
			d := lc.c.fe.Cfg.Timeouts.Client
			if d > 0 {
				lc.timer.Reset(d)
			}
			return
		}
		if data := sc.In.Data(); len(data) > 0 || lc.bodyEnded() {
			if err := lc.forward(data); err != nil {
				lc.bodyFailed()
				return
			}
			if lc.bodyEnded() {
				lc.bodyDone()
				return
			}
			continue
		}
		switch st, err := sc.ReadMore(); st {
		case evloop.ReadWait:
			lc.bw.Flush()
			lc.serverTimer()
			return
		case evloop.ReadEnd:
			if resp.toClose && err == nil {
				lc.serverKeep = false
				lc.bodyDone()
				return
			}
			lc.bodyFailed()
			return
		}
	}
}

// bodyEnded tells whether the whole response body went through.
func (lc *loopClient) bodyEnded() bool {
	switch {
	case lc.resp.chunked:
		return lc.chunks.done()
	case lc.resp.toClose:
		return false
	}
	return lc.left == 0
}

// forward passes received body bytes on, framed for the client.
func (lc *loopClient) forward(data []byte) error {
	sc, resp, bw := lc.sc, lc.resp, lc.bw
	switch {
	case resp.chunked:
		for len(data) > 0 && !lc.chunks.done() {
			piece, used, err := lc.chunks.next(data)
			if err != nil {
				return err
			}
			writeChunk(bw, piece)
			sc.In.Consume(used)
			data = data[used:]
		}
		if lc.chunks.done() {
			writeLastChunk(bw)
		}
	case resp.toClose:
		bw.Write(data)
		sc.In.Consume(len(data))
	default:
		n := len(data)
		if int64(n) > lc.left {
			n = int(lc.left)
		}
		bw.Write(data[:n])
		sc.In.Consume(n)
		lc.left -= int64(n)
	}
	return lc.Out.Err
}

// bodyDone ends a transaction whose response went through whole.
func (lc *loopClient) bodyDone() {
	sc, srv, tx := lc.sc, lc.srv, lc.tx
	lc.c.serverDone(tx, lc.bw, srv, lc.sent)
	lc.sc = nil
	switch {
	case !lc.serverKeep || len(sc.In.Data()) != 0 || sc.Hup:
		// (hup: the server closed its side already)
		sc.close()
	case tx.be.Cfg.HTTPReuse == "never":
		// the connection stays with its client connection, which
		// forgets it if the server closes it meanwhile (idleEvent)
		lc.sc = sc
	default:
		lc.hl.putIdle(sc)
	}
	lc.endTxn()
}

// bodyFailed ends a transaction whose body broke off: both connections
// close, as the goroutine path does.
func (lc *loopClient) bodyFailed() {
	lc.c.serverDone(lc.tx, lc.bw, lc.srv, lc.sent)
	lc.sc.close()
	lc.sc = nil
	lc.tx.keep = false
	lc.endTxn()
}
