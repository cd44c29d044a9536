package proxyd

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"halab/internal/evloop"
)

// loopState is where a loop connection is in its exchange.
type loopState uint8

const (
	stHead     loopState = iota // waiting for or reading a request head
	stConnect                   // connecting to the upstream peer
	stSend                      // connected, the request partly written
	stWaitResp                  // request sent, waiting for the response head
	stBody                      // relaying the response body
	stClosing                   // flushing the last bytes before closing
	stClosed
)

// loopConn is a client connection driven by an event loop, with the
// exchange in progress on it.
type loopConn struct {
	evloop.Peer
	el    *eventLoop
	c     *clientConn
	st    loopState
	timer *evloop.Timer
	bw    *bufio.Writer // to the client, over Out, during an exchange
	// when the head in progress began to arrive
	headStart time.Time

	// the exchange
	x    *exchange
	pr   *upstreamRun
	pe   *peer
	up   *loopUpstream
	t0   time.Time // the try's start
	res  *upResponse
	body *bodyWriter
	left int64 // body bytes still to come
}

// loopUpstream is the connection of a loopConn's try.
type loopUpstream struct {
	evloop.Peer
	lc        *loopConn
	connected bool
	closed    bool
}

// Ready handles the client socket's events.
func (lc *loopConn) Ready(ev uint32) {
	defer lc.recovered()
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

// Ready hands the upstream socket's events to its client connection.
func (up *loopUpstream) Ready(ev uint32) {
	if up.closed {
		return
	}
	up.Event(ev)
	lc := up.lc
	defer lc.recovered()
	switch lc.st {
	case stConnect:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			lc.connectProgress()
		}
	case stSend:
		lc.sendProgress()
	case stWaitResp:
		lc.readResponse()
	case stBody:
		lc.relay()
	}
	lc.kick()
}

func (up *loopUpstream) close() {
	if up == nil || up.closed {
		return
	}
	up.closed = true
	up.In.Release()
	up.Out.Pending = nil
	up.lc.el.lp.Close(up.FD)
}

// recovered ends a connection whose handler panicked, as the goroutine
// path does: one bad request must not take the daemon down.
func (lc *loopConn) recovered() {
	if p := recover(); p != nil {
		lc.el.s.log.Error("panic serving connection", "client", lc.c.remote, "panic", p, "stack", string(debug.Stack()))
		lc.close()
	}
}

// quickAck turns quick acknowledgements back on for a client accepted
// without them (eventLoop.accept) when more of its bytes are awaited, as
// HAProxy does: a client may hold the rest of a head or a body until its
// first bytes are acknowledged (Nagle's algorithm), which a delayed
// acknowledgement would make wait some 40 ms.
func (lc *loopConn) quickAck() {
	_ = evloop.SetsockoptInt(lc.FD, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
}

// idle tells a connection waiting for its next request.
func (lc *loopConn) idle() bool { return lc.st == stHead && len(lc.In.Data()) == 0 }

// flushed writes pending output and moves on what waited for room.
func (lc *loopConn) flushed() {
	empty, err := lc.Out.Flush()
	switch {
	case err != nil && lc.st == stBody:
		lc.bodyDone(false, nil)
	case err != nil && (lc.st == stHead || lc.st == stClosing):
		lc.close()
	case lc.st == stClosing && empty:
		lc.close()
	case lc.st == stBody && len(lc.Out.Pending) < maxPending:
		lc.relay()
	}
}

// detach takes the connection off the loop; its descriptor is closed,
// or left open for a goroutine (keep).
func (lc *loopConn) detach(keep bool) {
	lc.endTry()
	lc.st = stClosed
	lc.timer.Stop()
	lc.In.Release()
	lc.putWriter()
	if keep {
		lc.el.lp.Remove(lc.FD)
	} else {
		lc.el.lp.Close(lc.FD)
	}
	delete(lc.el.clients, lc)
}

// close ends the connection, and an exchange in progress on it.
func (lc *loopConn) close() {
	if lc.st == stClosed {
		return
	}
	lc.detach(false)
	lc.c.rt.connDone()
	lc.el.s.connsWG.Done()
}

// endTry closes the upstream connection of a try in progress and frees
// its peer.
func (lc *loopConn) endTry() {
	if lc.up != nil {
		lc.up.close()
		lc.up = nil
	}
	if lc.pe != nil {
		lc.pr.sel.free(lc.pe, false, time.Now())
		lc.pe = nil
	}
}

func (lc *loopConn) getWriter() {
	if lc.bw == nil {
		lc.bw = getWriter(&lc.Out)
		lc.c.bw = lc.bw
	}
}

func (lc *loopConn) putWriter() {
	if lc.bw != nil {
		putWriter(lc.bw)
		lc.bw, lc.c.bw = nil, nil
	}
}

// kick reads the next request once an exchange ended outside readHead
// (from an upstream's event or a timer).
func (lc *loopConn) kick() {
	if lc.st == stHead {
		lc.readHead()
	}
}

// readHead reads and parses request heads and starts their exchanges, as
// long as requests are there and the connection is in stHead.
func (lc *loopConn) readHead() {
	for lc.st == stHead {
		if len(lc.Out.Pending) >= maxPending {
			return // the client reads its answers first
		}
		data := lc.In.Data()
		if len(data) > 0 {
			req, n, err := lc.el.parseRequest(data)
			switch {
			case err == nil:
				if !lc.startExchange(req, n) {
					return
				}
				continue
			case !errors.Is(err, evloop.ErrIncomplete) || lc.In.Full():
				// the goroutine path answers what the loop cannot parse
				lc.handOff(nil, nil)
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
				lc.handOff(nil, nil)
				return
			}
			lc.close()
			return
		}
		if len(data) == 0 {
			// the first bytes of a request: client_header_timeout
			// for the whole head
			lc.headStart = time.Now()
			lc.timer.Reset(clientHeaderTimeout)
		}
	}
}

// startExchange starts a parsed request that took n bytes. It reports
// whether the connection stays on the loop.
func (lc *loopConn) startExchange(req *request, n int) bool {
	c := lc.c
	start := lc.headStart
	if start.IsZero() {
		start = time.Now()
	}
	c.requests++ // (keepalive_requests counts this one)
	x := &exchange{c: c, req: req, start: start, keepAlive: req.keepAlive}
	loc := c.rt.loopLocation(x)
	if loc == nil {
		c.requests--
		lc.handOff(nil, nil)
		return false
	}
	lc.In.Consume(n)
	lc.headStart = time.Time{}
	lc.x = x
	lc.getWriter()
	lc.pr = c.rt.startProxy(x, loc)
	if lc.pr == nil {
		lc.endExchange()
		return true
	}
	lc.connectPeer()
	return true
}

// connectPeer starts a try at the next peer.
func (lc *loopConn) connectPeer() {
	x, pr := lc.x, lc.pr
	pe := x.c.rt.nextPeer(x, pr)
	if pe == nil {
		lc.endExchange()
		return
	}
	lc.pe, lc.t0 = pe, time.Now()
	fd, err := evloop.Connect(pe.addr)
	if err != nil {
		lc.tryFailed(ftError, err, false)
		return
	}
	up := &loopUpstream{Peer: evloop.NewPeer(fd), lc: lc}
	if err := lc.el.lp.Add(fd, evloop.EdgeReadWrite, up); err != nil {
		unix.Close(fd)
		lc.tryFailed(ftError, err, false)
		return
	}
	lc.up = up
	lc.st = stConnect
	lc.timer.Reset(pr.s.ConnectTimeout)
	// The request is written at once: the kernel takes it once the
	// handshake is over (often already, on a LAN), says EAGAIN before,
	// and reports a failed connect as the write's error.
	if _, err := up.Out.Write(pr.head); err != nil {
		lc.tryFailed(ftError, err, false)
		return
	}
	if up.Out.Sent > 0 {
		lc.connected()
	}
}

// connectProgress goes on once the connecting socket is writable.
func (lc *loopConn) connectProgress() {
	up := lc.up
	if _, err := up.Out.Flush(); err != nil {
		lc.tryFailed(ftError, err, false)
		return
	}
	if up.Out.Sent > 0 {
		lc.connected()
	}
}

// connected notes the connection made and waits for the rest of the
// request to go, or for the response.
func (lc *loopConn) connected() {
	lc.up.connected = true
	lc.x.upConnect = append(lc.x.upConnect, time.Since(lc.t0))
	if len(lc.up.Out.Pending) > 0 {
		lc.st = stSend
		lc.timer.Reset(lc.pr.s.SendTimeout)
		return
	}
	lc.waitResponse()
}

// sendProgress writes more of the request.
func (lc *loopConn) sendProgress() {
	empty, err := lc.up.Out.Flush()
	switch {
	case err != nil:
		lc.tryFailed(ftError, err, true)
	case empty:
		lc.waitResponse()
	default:
		lc.timer.Reset(lc.pr.s.SendTimeout)
	}
}

func (lc *loopConn) waitResponse() {
	lc.st = stWaitResp
	lc.timer.Reset(lc.pr.s.ReadTimeout)
	lc.readResponse()
}

// readResponse reads and parses the response head.
func (lc *loopConn) readResponse() {
	up := lc.up
	for lc.st == stWaitResp {
		if data := up.In.Data(); len(data) > 0 {
			res, n, err := lc.el.parseResponse(data, lc.x.req.method)
			switch {
			case err == nil:
				up.In.Consume(n)
				if res.status == 100 {
					continue
				}
				lc.response(res)
				return
			case errors.Is(err, errInvalidHeader):
				lc.tryFailed(ftInvalidHeader, err, true)
				return
			case !errors.Is(err, evloop.ErrIncomplete):
				lc.tryFailed(ftError, err, true)
				return
			case up.In.Full():
				// nginx: "upstream sent too big header"
				lc.tryFailed(ftInvalidHeader, errInvalidHeader, true)
				return
			}
		}
		switch st, err := up.ReadMore(); st {
		case evloop.ReadWait:
			return
		case evloop.ReadEnd:
			if err == nil {
				err = errUpstreamClosed
			}
			lc.tryFailed(ftError, err, true)
			return
		}
	}
}

// tryFailed ends a try that failed before a response head: the next
// peer, or the error's answer.
func (lc *loopConn) tryFailed(ft failure, err error, sent bool) {
	x, pr, pe := lc.x, lc.pr, lc.pe
	lc.up.close()
	lc.up, lc.pe = nil, nil
	if !sent {
		// as the goroutine path's dial, failed or not
		x.upConnect = append(x.upConnect, time.Since(lc.t0))
	}
	switch x.c.rt.judge(x, pr, pe, nil, ft, sent, false, err, lc.t0) {
	case tryNext:
		lc.connectPeer()
	default:
		x.sendSpecial(ft.status(), "", pr.s.ServerTokens)
		lc.endExchange()
	}
}

// response goes on with a response head: relay it, or try the next peer
// as proxy_next_upstream says.
func (lc *loopConn) response(res *upResponse) {
	x, pr, pe := lc.x, lc.pr, lc.pe
	ft := x.responseHead(res, pr.s, lc.t0)
	switch x.c.rt.judge(x, pr, pe, res, ft, true, false, nil, lc.t0) {
	case tryNext:
		lc.up.close()
		lc.up, lc.pe = nil, nil
		lc.connectPeer()
		return
	case giveUp: // (judge gives up on failures only)
	}
	if res.http09 != nil || res.chunked || res.eofBody || res.status == 101 {
		lc.handOffResponse(res)
		return
	}
	h, _ := x.clientHead(res, pr.s)
	lc.res = res
	lc.body = x.writeHead(h)
	lc.left = res.contentLength
	if noBody(x.req.method, res.status) {
		lc.left = 0
	}
	lc.st = stBody
	lc.relay()
}

// relay moves response body bytes from the upstream to the client until
// the body ends, the upstream has no more for now, or the client has too
// much pending.
func (lc *loopConn) relay() {
	up := lc.up
	for lc.st == stBody {
		if len(lc.Out.Pending) >= maxPending {
			lc.timer.Reset(sendTimeout)
			return
		}
		if lc.left == 0 {
			lc.bodyDone(true, nil)
			return
		}
		if data := up.In.Data(); len(data) > 0 {
			n := int(min(int64(len(data)), lc.left))
			_, _ = lc.body.Write(data[:n])
			up.In.Consume(n)
			lc.left -= int64(n)
			if lc.Out.Err != nil {
				lc.bodyDone(false, nil)
				return
			}
			continue
		}
		switch st, err := up.ReadMore(); st {
		case evloop.ReadWait:
			_ = lc.bw.Flush()
			lc.timer.Reset(lc.pr.s.ReadTimeout)
			return
		case evloop.ReadEnd:
			if err == nil {
				err = errUpstreamClosed
			}
			lc.bodyDone(false, err)
			return
		}
	}
}

// bodyDone ends the relay: complete, or cut short by the upstream (upErr,
// logged) or by the client.
func (lc *loopConn) bodyDone(complete bool, upErr error) {
	x := lc.x
	if complete {
		_ = lc.body.finish()
	} else {
		x.keepAlive = false
		if upErr != nil {
			msg := "upstream prematurely closed connection while reading upstream"
			if errors.Is(upErr, os.ErrDeadlineExceeded) {
				msg = "upstream timed out (110: Connection timed out) while reading upstream"
			}
			x.c.rt.errLog.log("error", x, msg, x.upURL())
		}
	}
	lc.endTry()
	lc.endExchange()
}

// endExchange logs the exchange, flushes its last bytes and goes on with
// the next request or closes.
func (lc *loopConn) endExchange() {
	x, c := lc.x, lc.c
	lc.x, lc.pr, lc.res, lc.body = nil, nil, nil, nil
	lc.el.stats.served++
	c.rt.finishExchange(x)
	if !c.afterExchange(x) {
		lc.closeAfterFlush()
		return
	}
	lc.putWriter()
	lc.st = stHead
	lc.timer.Reset(c.keepalive)
}

// closeAfterFlush closes once the pending output is written, within
// send_timeout.
func (lc *loopConn) closeAfterFlush() {
	// the last bytes and the FIN leave together
	lc.Out.LastWrites()
	if lc.bw != nil {
		_ = lc.bw.Flush()
	}
	lc.st = stClosing
	if len(lc.Out.Pending) == 0 || lc.Out.Err != nil {
		lc.close()
		return
	}
	lc.timer.Reset(sendTimeout)
}

// timeout fires the timer of the current state.
func (lc *loopConn) timeout() {
	defer lc.recovered()
	switch lc.st {
	case stHead:
		if len(lc.In.Data()) > 0 {
			// the goroutine path answers a head that is late
			lc.handOff(nil, nil)
			return
		}
		lc.close()
	case stConnect:
		lc.tryFailed(ftTimeout, os.ErrDeadlineExceeded, false)
	case stSend, stWaitResp:
		lc.tryFailed(ftTimeout, os.ErrDeadlineExceeded, true)
	case stBody:
		if len(lc.Out.Pending) >= maxPending {
			lc.bodyDone(false, nil) // the client stopped reading
		} else {
			lc.bodyDone(false, os.ErrDeadlineExceeded)
		}
	case stClosing:
		lc.close()
	}
	lc.kick()
}

// handOffResponse hands the connection to a goroutine to relay a
// response the loop does not (chunked, until close, HTTP/0.9, 101); the
// goroutine then goes on with the connection's next requests.
func (lc *loopConn) handOffResponse(res *upResponse) {
	x, pr, pe, up := lc.x, lc.pr, lc.pe, lc.up
	rt, s := lc.c.rt, lc.el.s
	// the try goes with the exchange: the loop must not end it
	lc.up, lc.pe = nil, nil
	up.closed = true
	lc.el.lp.Remove(up.FD)
	unc, err := fileConn(up.FD, "upstream")
	var br *bufio.Reader
	if err == nil {
		br = getReader(&upReaderPool, prefixed(up.In.Data(), unc))
	} else {
		s.log.Error("cannot hand a connection over", "upstream", pe.addr, "err", err)
	}
	up.In.Release()
	lc.x, lc.pr = nil, nil
	drop := func() {
		if unc != nil {
			_ = unc.Close()
		}
		pr.sel.free(pe, false, time.Now())
	}
	lc.handOff(func(context.Context) bool {
		if err != nil {
			pr.sel.free(pe, false, time.Now())
			x.keepAlive = false
			rt.finishExchange(x)
			return false
		}
		u := &upConn{nc: unc, br: br, addr: pe.addr}
		rt.relay(x, u, res, pr.pl, pe, pr.sel, pr.s)
		rt.finishExchange(x)
		return lc.c.afterExchange(x)
	}, drop)
}
