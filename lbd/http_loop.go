package lbd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
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
	src    sliceReader
	parser *bufio.Reader

	clients   map[*loopClient]struct{}
	acceptors []*acceptor
	// idle keeps server connections between requests, per server
	idle map[*Server][]*loopServer
	done chan struct{}
}

// maxPending bounds the output a connection buffers before the loop stops
// producing more for it (reading its server, parsing its next request).
const maxPending = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

func newHTTPLoop(in *Instance) (*httpLoop, error) {
	lp, err := evloop.New()
	if err != nil {
		return nil, err
	}
	hl := &httpLoop{
		in: in, lp: lp,
		clients: map[*loopClient]struct{}{},
		idle:    map[*Server][]*loopServer{},
		done:    make(chan struct{}),
	}
	hl.parser = bufio.NewReaderSize(&hl.src, 16<<10)
	go func() {
		defer close(hl.done)
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
	hl.do(func() {
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
	hl.do(func() {
		for _, a := range hl.acceptors {
			hl.lp.Close(a.fd)
		}
		hl.acceptors = nil
	})
}

// do runs f on the loop and waits for it, unless the loop has ended.
func (hl *httpLoop) do(f func()) {
	ran := make(chan struct{})
	hl.lp.Post(func() {
		defer close(ran)
		f()
	})
	select {
	case <-ran:
	case <-hl.done:
	}
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
		for _, list := range hl.idle {
			for _, sc := range list {
				sc.close()
			}
		}
		hl.idle = nil
		hl.lp.Stop()
	})
	<-hl.done
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
	lc := &loopClient{hl: hl, peer: peer{fd: fd}, first: true}
	lc.c = &clientConn{fe: fe, src: remote, dst: local, loop: lc}
	lc.c.out = &countWriter{w: &lc.out}
	lc.out.fd = fd
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

// sliceReader reads the bytes it is given, then reports errIncomplete.
type sliceReader struct{ b []byte }

var errIncomplete = errors.New("incomplete message")

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errIncomplete
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// headEnds tells whether data may hold a whole message head.
func headEnds(data []byte) bool {
	return bytes.Contains(data, []byte("\n\r\n")) || bytes.Contains(data, []byte("\n\n"))
}

// parseRequest parses a request head at the start of data; errIncomplete
// means more bytes are needed. It returns the bytes used.
func (hl *httpLoop) parseRequest(data []byte) (*Request, int, error) {
	if !headEnds(data) {
		return nil, 0, errIncomplete
	}
	hl.src.b = data
	hl.parser.Reset(&hl.src)
	req, err := ReadRequest(hl.parser)
	return req, len(data) - len(hl.src.b) - hl.parser.Buffered(), err
}

// parseResponse is parseRequest for a response to a method.
func (hl *httpLoop) parseResponse(data []byte, method string) (*Response, int, error) {
	if !headEnds(data) {
		return nil, 0, errIncomplete
	}
	hl.src.b = data
	hl.parser.Reset(&hl.src)
	resp, err := ReadResponse(hl.parser, method)
	return resp, len(data) - len(hl.src.b) - hl.parser.Buffered(), err
}

// inBuf holds received bytes not used yet: b[r:w]. Its 16 KiB buffer comes
// from a pool when bytes arrive and goes back when it is empty.
type inBuf struct {
	b    *[]byte
	r, w int
}

func (ib *inBuf) data() []byte {
	if ib.b == nil {
		return nil
	}
	return (*ib.b)[ib.r:ib.w]
}

func (ib *inBuf) consume(n int) {
	ib.r += n
	if ib.r == ib.w {
		ib.release()
	}
}

// full reports a buffer with no room left.
func (ib *inBuf) full() bool { return ib.b != nil && ib.r == 0 && ib.w == len(*ib.b) }

// readFrom reads from fd into the free space. n is 0 at the end of the
// stream; err is unix.EAGAIN when nothing is there yet; filled reports a
// read that took all the space (more may be waiting).
func (ib *inBuf) readFrom(fd int) (n int, filled bool, err error) {
	if ib.b == nil {
		ib.b = bufPool.Get().(*[]byte)
		ib.r, ib.w = 0, 0
	}
	if ib.r > 0 {
		copy(*ib.b, (*ib.b)[ib.r:ib.w])
		ib.w -= ib.r
		ib.r = 0
	}
	for {
		space := len(*ib.b) - ib.w
		n, err := evloop.Read(fd, (*ib.b)[ib.w:])
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			ib.w += n
		}
		if ib.r == ib.w && (err != nil || n == 0) {
			ib.release()
		}
		if err != nil {
			return 0, false, err
		}
		return n, n == space, nil
	}
}

// peer is a socket the loop talks to: the bytes received from it and not
// used yet, the ones waiting to go, and what its events told.
type peer struct {
	fd  int
	in  inBuf
	out fdWriter
	// readable: bytes or an end may be there, not read yet
	readable bool
	// hup: the other side shut down or the socket failed
	hup bool
}

// event notes what an event reports.
func (p *peer) event(ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		p.readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		p.hup = true
	}
}

// fill reads what the socket has. n is 0 at the end of the stream; err is
// unix.EAGAIN when nothing is there yet. A read that does not fill the
// buffer emptied the socket: the next bytes come with an event (the
// sockets are edge-triggered), so none is tried before, which saves a
// read ending in EAGAIN per message. An end already announced is read.
func (p *peer) fill() (int, error) {
	n, filled, err := p.in.readFrom(p.fd)
	if err == unix.EAGAIN || (err == nil && n > 0 && !filled && !p.hup) {
		p.readable = false
	}
	return n, err
}

func (ib *inBuf) release() {
	if ib.b != nil {
		bufPool.Put(ib.b)
		ib.b, ib.r, ib.w = nil, 0, 0
	}
}

// fdWriter writes to a non-blocking descriptor, keeping what the kernel
// does not take yet for flush.
type fdWriter struct {
	fd      int
	pending []byte
	err     error
	sent    int64 // bytes the kernel took
}

func (w *fdWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	if len(w.pending) == 0 {
		m, err := writeFD(w.fd, p)
		if err != nil {
			w.err = err
			return 0, err
		}
		w.sent += int64(m)
		p = p[m:]
	}
	w.pending = append(w.pending, p...)
	return n, nil
}

// flush writes what is pending; it reports whether nothing is left.
func (w *fdWriter) flush() (bool, error) {
	if w.err != nil {
		return false, w.err
	}
	if len(w.pending) == 0 {
		return true, nil
	}
	m, err := writeFD(w.fd, w.pending)
	if err != nil {
		w.err = err
		return false, err
	}
	w.sent += int64(m)
	w.pending = w.pending[m:]
	if len(w.pending) == 0 {
		w.pending = nil
		return true, nil
	}
	return false, nil
}

// writeFD writes what the kernel takes of p, EAGAIN being no error.
func writeFD(fd int, p []byte) (int, error) {
	for {
		m, err := evloop.Write(fd, p)
		switch err {
		case nil:
			return m, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, err
	}
}

// handOff moves a connection from the loop to a goroutine of the
// goroutine path: the received bytes are read first, pending output is
// written first.
func (lc *loopClient) handOff() {
	hl, c := lc.hl, lc.c
	prefix := append([]byte(nil), lc.in.data()...)
	pending := lc.out.pending
	lc.in.release()
	lc.putWriter()
	lc.timer.Stop()
	hl.lp.Remove(lc.fd)
	delete(hl.clients, lc)
	lc.st = stClosed
	if lc.sc != nil {
		lc.sc.close()
		lc.sc = nil
	}
	f := os.NewFile(uintptr(lc.fd), "client")
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
	peer
	hl         *httpLoop
	srv        *Server
	cw         countWriter
	bw         *bufio.Writer
	owner      *loopClient // nil while pooled
	connecting bool
	used       bool // already carried a request
	served     int  // requests sent on it
	pooled     bool
	idleSince  time.Time
	closed     bool
}

// Ready hands the server socket's events to the client it works for.
func (sc *loopServer) Ready(ev uint32) {
	if sc.closed {
		return
	}
	sc.event(ev)
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
			if _, err := sc.out.flush(); err != nil {
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
	if !sc.readable {
		return
	}
	var b [64]byte
	_, err := unix.Read(sc.fd, b[:])
	if err == unix.EAGAIN {
		sc.readable = false
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
	if sc.pooled {
		sc.hl.removeIdle(sc)
	}
	if lc := sc.owner; lc != nil && lc.sc == sc {
		lc.sc = nil
	}
	sc.in.release()
	sc.putWriter()
	sc.out.pending = nil
	sc.hl.lp.Close(sc.fd)
}

// putIdle pools a server connection, closing the oldest beyond the bound.
func (hl *httpLoop) putIdle(sc *loopServer) {
	sc.owner, sc.pooled, sc.idleSince = nil, true, hl.lp.Now()
	list := hl.idle[sc.srv]
	if len(list) >= maxIdlePerServer {
		list[0].pooled = false
		list[0].close()
		list = list[1:]
	}
	hl.idle[sc.srv] = append(list, sc)
}

// getIdle takes the most recently used idle connection to srv that has
// carried at least minServed requests (see clientConn.connect).
func (hl *httpLoop) getIdle(srv *Server, minServed int) *loopServer {
	list := hl.idle[srv]
	now := hl.lp.Now()
	for i := len(list) - 1; i >= 0; i-- {
		sc := list[i]
		if now.Sub(sc.idleSince) >= idleServerTimeout {
			sc.close()
			list = hl.idle[srv]
			continue
		}
		if sc.served >= minServed {
			hl.removeIdle(sc)
			return sc
		}
	}
	return nil
}

func (hl *httpLoop) removeIdle(sc *loopServer) {
	list := hl.idle[sc.srv]
	for i, x := range list {
		if x == sc {
			hl.idle[sc.srv] = append(list[:i], list[i+1:]...)
			break
		}
	}
	sc.pooled = false
}
