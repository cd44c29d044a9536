package lbd

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"halab/internal/evloop"
	"halab/lbd/haproxycfg"
)

// httpLoop drives an Instance's HTTP frontends from one event loop, as an
// HAProxy thread does: client and server connections are state machines
// (loopClient, loopServer) run by readiness events and timers. It handles
// the common shapes: requests without a body, responses of any framing,
// keep-alive and server connection reuse. A request it does not handle
// (a body, an upgrade, a head it cannot parse) hands its connection over
// to the goroutine path (serveHTTP), for the rest of that connection's
// life; both paths share the transaction phases of http_txn.go.
type httpLoop struct {
	in *Instance
	lp *evloop.Loop

	// heads are parsed from received bytes with the goroutine path's
	// parser, through a reader over them that reports their end
	src    evloop.SliceReader
	parser *bufio.Reader

	clients   map[*loopClient]struct{}
	acceptors []*acceptor
	// pools keep idle server connections between requests, per server
	pools map[*Server]*loopPool
}

// loopPool is the loop's pool of idle connections to one server, with
// the timer of its purge.
type loopPool struct {
	connPool[*loopServer]
	timer *evloop.Timer
}

// maxPending bounds the output a connection buffers before the loop stops
// producing more for it (reading its server, parsing its next request).
const maxPending = 64 << 10

func newHTTPLoop(in *Instance) (*httpLoop, error) {
	lp, err := evloop.New()
	if err != nil {
		return nil, err
	}
	hl := &httpLoop{
		in: in, lp: lp,
		clients: map[*loopClient]struct{}{},
		pools:   map[*Server]*loopPool{},
	}
	hl.parser = bufio.NewReaderSize(&hl.src, 16<<10)
	go func() {
		if err := lp.Run(); err != nil {
			in.Log.Error("event loop stopped", "err", err)
		}
	}()
	return hl, nil
}

// loopEligible tells whether a frontend's connections can run on the
// loop: HTTP mode, and every server it may use has an IP address without
// a zone (names are resolved, zones looked up, by the goroutine path's
// dialer).
func (fe *Frontend) loopEligible() bool {
	if fe.Cfg.Mode != haproxycfg.ModeHTTP {
		return false
	}
	bes := []*Backend{fe.self}
	for _, be := range fe.backends {
		bes = append(bes, be)
	}
	for _, be := range bes {
		if be == nil {
			continue
		}
		if be.Cfg.Mode != haproxycfg.ModeHTTP {
			return false
		}
		for _, s := range be.Servers {
			// (an IPv6 zone is only known to internal/tcpdial)
			if !s.ip.IsValid() || s.ip.Zone() != "" {
				return false
			}
		}
	}
	return true
}

// startAccepting makes the loop accept on the listeners of fes. It
// returns those it could not take (the goroutine path accepts on them).
func (hl *httpLoop) startAccepting(fes []*Frontend) (left map[net.Listener]*Frontend) {
	hl.lp.Do(func() {
		for _, fe := range fes {
			for _, l := range fe.listeners {
				fd, err := evloop.ListenerFD(l)
				if err == nil {
					a := &acceptor{hl: hl, fe: fe, fd: fd}
					if err = hl.lp.Add(fd, evloop.LevelRead, a); err == nil {
						hl.acceptors = append(hl.acceptors, a)
						continue
					}
					unix.Close(fd)
				}
				hl.in.Log.Warn("cannot accept on the event loop, goroutines do", "frontend", fe.Name, "err", err)
				if left == nil {
					left = map[net.Listener]*Frontend{}
				}
				left[l] = fe
			}
		}
	})
	return left
}

// stopAccepting removes the listeners from the loop (the sockets stay
// open, owned by their net.Listener).
func (hl *httpLoop) stopAccepting() {
	hl.lp.Do(func() {
		for _, a := range hl.acceptors {
			hl.lp.Close(a.fd)
		}
		hl.acceptors = nil
	})
}

// stop closes the idle server connections and ends the loop; the
// clients are gone by then.
func (hl *httpLoop) stop() {
	hl.lp.Post(func() {
		for lc := range hl.clients {
			lc.close()
		}
		for _, a := range hl.acceptors {
			hl.lp.Close(a.fd)
		}
		for _, p := range hl.pools {
			p.timer.Stop()
			for _, sc := range p.drain() {
				sc.closePurged()
			}
		}
		hl.pools = nil
		hl.lp.Stop()
	})
	<-hl.lp.Done()
}

// acceptor takes new connections from one listening socket.
type acceptor struct {
	hl *httpLoop
	fe *Frontend
	fd int
}

func (a *acceptor) Ready(uint32) {
	// a few at a time, as HAProxy's tune.maxaccept, so that a burst of
	// connections does not starve the ones being served
	for range 16 {
		fd, remote, local, err := evloop.Accept(a.fd)
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR && err != unix.ECONNABORTED {
				a.fe.in.Log.Warn("accept failed", "frontend", a.fe.Name, "err", err)
			}
			return
		}
		a.hl.newClient(a.fe, fd, remote, local)
	}
}

func (hl *httpLoop) newClient(fe *Frontend, fd int, remote, local netip.AddrPort) {
	if fe.Cfg.ClientTCPKA {
		_ = evloop.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	}
	lc := &loopClient{hl: hl, Peer: evloop.NewPeer(fd), first: true}
	lc.Out.Batch(hl.lp, lc)
	lc.c = &clientConn{fe: fe, src: remote, dst: local, loop: lc}
	lc.c.out = &countWriter{w: &lc.Out}
	lc.timer = hl.lp.NewTimer(lc.timeout)
	if err := hl.lp.Add(fd, evloop.EdgeReadWrite, lc); err != nil {
		unix.Close(fd)
		fe.in.Log.Warn("accept failed", "frontend", fe.Name, "err", err)
		return
	}
	fe.accepted(lc.c)
	hl.clients[lc] = struct{}{}
	lc.st = stHead
	lc.timer.Reset(lc.idleTimeout())
}

// parseRequest parses a request head at the start of data; evloop.ErrIncomplete
// means more bytes are needed. It returns the bytes used.
func (hl *httpLoop) parseRequest(data []byte) (*Request, int, error) {
	if !evloop.HeadEnds(data) {
		return nil, 0, evloop.ErrIncomplete
	}
	hl.src = evloop.SliceReader{B: data}
	hl.parser.Reset(&hl.src)
	req, err := ReadRequest(hl.parser)
	return req, len(data) - len(hl.src.B) - hl.parser.Buffered(), err
}

// parseResponse is parseRequest for a response to a method.
func (hl *httpLoop) parseResponse(data []byte, method string) (*Response, int, error) {
	if !evloop.HeadEnds(data) {
		return nil, 0, evloop.ErrIncomplete
	}
	hl.src = evloop.SliceReader{B: data}
	hl.parser.Reset(&hl.src)
	resp, err := ReadResponse(hl.parser, method)
	return resp, len(data) - len(hl.src.B) - hl.parser.Buffered(), err
}

// handOff moves a connection from the loop to a goroutine of the
// goroutine path: the received bytes are read first, pending output is
// written first.
func (lc *loopClient) handOff() {
	hl, c := lc.hl, lc.c
	// the goroutine path reads bodies and the rest of heads and does not
	// tell when it awaits bytes
	lc.quickAck()
	prefix := append([]byte(nil), lc.In.Data()...)
	pending := lc.Out.Pending
	lc.In.Release()
	lc.putWriter()
	lc.timer.Stop()
	hl.lp.Remove(lc.FD)
	delete(hl.clients, lc)
	lc.st = stClosed
	if lc.sc != nil {
		lc.sc.close()
		lc.sc = nil
	}
	f := os.NewFile(uintptr(lc.FD), "client")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		hl.in.Log.Warn("cannot hand a connection over", "frontend", c.fe.Name, "err", err)
		c.fe.closed(c)
		return
	}
	c.mu.Lock()
	c.conn, c.loop = conn, nil
	c.rd = readPacer{conn: conn}
	closed := c.closed
	c.mu.Unlock()
	first := lc.first
	go func() {
		defer c.fe.closed(c)
		defer conn.Close()
		if closed {
			return
		}
		if len(pending) > 0 {
			if d := c.fe.Cfg.Timeouts.Client; d > 0 {
				conn.SetWriteDeadline(time.Now().Add(d))
			}
			if _, err := conn.Write(pending); err != nil {
				return
			}
			conn.SetWriteDeadline(time.Time{})
		}
		var r io.Reader = conn
		if len(prefix) > 0 {
			r = io.MultiReader(bytes.NewReader(prefix), conn)
		}
		c.serveHTTPFrom(r, first)
	}()
}

// loopServer is a server connection driven by the loop: owned by the
// client whose request it carries, or idle in the loop's pool.
type loopServer struct {
	evloop.Peer
	hl         *httpLoop
	srv        *Server
	cw         countWriter
	bw         *bufio.Writer
	owner      *loopClient // nil while pooled
	connecting bool
	used       bool // already carried a request
	served     int  // requests sent on it
	pooled     bool
	counted    bool // in its server's connCounts
	closed     bool
}

// Ready hands the server socket's events to the client it works for.
func (sc *loopServer) Ready(ev uint32) {
	if sc.closed {
		return
	}
	sc.Event(ev)
	lc := sc.owner
	if lc == nil || lc.sc != sc {
		sc.idleEvent()
		return
	}
	switch lc.st {
	case stConnect:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			lc.connectProgress()
		}
	case stWaitResp:
		if ev&unix.EPOLLOUT != 0 {
			if _, err := sc.Out.Flush(); err != nil {
				lc.roundTripFailed(err, lc.reused)
				break
			}
		}
		lc.readResponse()
	case stBody:
		lc.relay()
	default:
		// kept by its client between requests (http-reuse never)
		sc.idleEvent()
	}
	lc.kick()
}

// idleEvent ends an idle connection the server closed or wrote to: it
// has nothing to say between requests.
func (sc *loopServer) idleEvent() {
	if !sc.Readable {
		return
	}
	var b [64]byte
	_, err := unix.Read(sc.FD, b[:])
	if err == unix.EAGAIN {
		sc.Readable = false
		return
	}
	sc.close()
}

func (sc *loopServer) writer() *bufio.Writer {
	if sc.bw == nil {
		sc.bw = sc.hl.in.bufs.getWriter(&sc.cw)
	}
	return sc.bw
}

func (sc *loopServer) putWriter() {
	if sc.bw != nil {
		sc.hl.in.bufs.putWriter(sc.bw)
		sc.bw = nil
	}
}

func (sc *loopServer) close() {
	if sc == nil || sc.closed {
		return
	}
	sc.closed = true
	switch {
	case sc.pooled:
		sc.pooled = false
		if p := sc.hl.pools[sc.srv]; p != nil {
			p.remove(sc)
		}
	case sc.counted:
		sc.srv.conns.closedInUse()
	}
	if lc := sc.owner; lc != nil && lc.sc == sc {
		lc.sc = nil
	}
	sc.In.Release()
	sc.putWriter()
	sc.Out.Pending = nil
	if !sc.Hup {
		// as HAProxy closes its server connections: with a reset
		// unless the server has closed its side, so that no TIME_WAIT
		// stays on the balancer for each one
		_ = evloop.SetLinger0(sc.FD)
	}
	sc.hl.lp.Close(sc.FD)
}

// closePurged closes a connection the pool took out to close (it was
// counted idle, and the pool has uncounted it).
func (sc *loopServer) closePurged() {
	sc.pooled, sc.counted = false, false
	sc.close()
}

// pool returns the loop's pool of idle connections to srv.
func (hl *httpLoop) pool(srv *Server) *loopPool {
	p := hl.pools[srv]
	if p == nil {
		p = &loopPool{connPool: connPool[*loopServer]{counts: srv.conns}}
		p.timer = hl.lp.NewTimer(func() { hl.purge(p) })
		hl.pools[srv] = p
	}
	return p
}

// putIdle offers a server connection whose request is over to its pool,
// and closes it when the pool does not keep it.
func (hl *httpLoop) putIdle(sc *loopServer) {
	p := hl.pool(sc.srv)
	kept, purgeAt := p.put(sc, sc.served > 1, hl.lp.Now())
	if !kept {
		sc.close()
		return
	}
	sc.owner, sc.pooled = nil, true
	hl.armPurge(p, purgeAt)
}

// getIdle takes the oldest pooled connection to srv a request may reuse.
func (hl *httpLoop) getIdle(srv *Server, k reuseKind) *loopServer {
	p := hl.pools[srv]
	if k == reuseNone || p == nil {
		return nil
	}
	sc, ok := p.take(k)
	if !ok {
		return nil
	}
	sc.pooled = false
	return sc
}

// purge runs a pool's purge (see connPool.purge).
func (hl *httpLoop) purge(p *loopPool) {
	kill, next := p.purge(hl.lp.Now())
	for _, sc := range kill {
		sc.closePurged()
	}
	hl.armPurge(p, next)
}

func (hl *httpLoop) armPurge(p *loopPool, when time.Time) {
	if !when.IsZero() && (!p.timer.Armed() || !p.timer.When().Equal(when)) {
		p.timer.ResetAt(when)
	}
}
