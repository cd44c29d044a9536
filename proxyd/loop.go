package proxyd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"halab/internal/evloop"
	"halab/proxyd/config"
)

// eventLoop serves connections from one epoll loop, as an nginx worker
// process does: client and upstream connections are state machines
// (loopConn, loopUpstream) run by readiness events and timers. A Server
// runs one per worker_processes. The loop handles the common shape —
// a request without a body passed to an upstream without keepalive, a
// response with a Content-Length — and hands the connection to a
// goroutine of the goroutine path for anything else, before the request
// (a body, an upgrade, a return, static files, a head it cannot parse) or
// once the response head is in (chunked, until close, HTTP/0.9, 101). Both
// paths share the request's phases (runtime.go, proxy.go, relay.go).
type eventLoop struct {
	s  *Server
	lp *evloop.Loop

	// heads are parsed from received bytes with the goroutine path's
	// parsers, through a reader over them that reports their end
	src    evloop.SliceReader
	parser *bufio.Reader

	clients   map[*loopConn]struct{}
	acceptors map[netip.AddrPort]int // listening descriptors by address
	exclusive bool                   // other loops watch the same listeners
	stats     loopStats
}

// loopStats counts what a loop did with requests (for tests): served
// whole, handed over before the request, or after the response head.
type loopStats struct {
	served, handedOff, responsesHandedOff int
}

// loopStats sums the loops' counts.
func (s *Server) loopStats() (sum loopStats) {
	for _, el := range s.loops {
		el.lp.Do(func() {
			sum.served += el.stats.served
			sum.handedOff += el.stats.handedOff
			sum.responsesHandedOff += el.stats.responsesHandedOff
		})
	}
	return sum
}

// maxPending bounds the output a client connection buffers before the
// loop stops producing more for it (reading its upstream, parsing its
// next request).
const maxPending = 64 << 10

func newEventLoop(s *Server, exclusive bool) (*eventLoop, error) {
	lp, err := evloop.New()
	if err != nil {
		return nil, err
	}
	el := &eventLoop{
		s: s, lp: lp, exclusive: exclusive,
		clients:   map[*loopConn]struct{}{},
		acceptors: map[netip.AddrPort]int{},
	}
	el.parser = bufio.NewReaderSize(&el.src, evloop.BufSize)
	go func() {
		if err := lp.Run(); err != nil {
			s.log.Error("event loop stopped", "err", err)
		}
	}()
	return el, nil
}

// accept makes the loop accept on l, bound to a. It reports whether it
// could (else goroutines accept on it).
func (el *eventLoop) accept(a netip.AddrPort, l net.Listener) error {
	fd, err := evloop.ListenerFD(l)
	if err != nil {
		return err
	}
	// Connections accepted from here on delay the acknowledgement of
	// their request, so that it leaves with the response (HAProxy's
	// smart-accept; nginx acknowledges at once, in a segment of its own).
	// The loop turns quick acknowledgements back on when it awaits more
	// of a client's bytes (quickAck). Measured in the lab's close case:
	// one segment fewer a connection, about 5 % more requests a second.
	if err := evloop.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0); err != nil {
		el.s.log.Warn("cannot set TCP_QUICKACK on a listening socket", "listen", a, "err", err)
	}
	err = errors.New("event loop ended")
	el.lp.Do(func() {
		events := uint32(evloop.LevelRead)
		if el.exclusive {
			// one loop woken per connection, as nginx's EPOLLEXCLUSIVE
			events |= unix.EPOLLEXCLUSIVE
		}
		if err = el.lp.Add(fd, events, acceptor{el, fd}); err == nil {
			el.acceptors[a] = fd
		}
	})
	if err != nil {
		unix.Close(fd)
	}
	return err
}

// stopAccepting stops accepting on a (all addresses when a is invalid).
func (el *eventLoop) stopAccepting(a netip.AddrPort) {
	el.lp.Do(func() {
		for addr, fd := range el.acceptors {
			if !a.IsValid() || addr == a {
				el.lp.Close(fd)
				delete(el.acceptors, addr)
			}
		}
	})
}

// closeIdle closes the connections waiting for a request under rt (all
// of them when rt is nil, with the busy ones: a stop).
func (el *eventLoop) closeIdle(rt *runtime) {
	el.lp.Do(func() {
		for lc := range el.clients {
			if rt == nil || (lc.c.rt == rt && lc.idle() && rt.closesWaiting(lc.c.requests)) {
				lc.close()
			}
		}
	})
}

// stop ends the loop; its connections are gone by then.
func (el *eventLoop) stop() {
	el.lp.Post(func() {
		for lc := range el.clients {
			lc.close()
		}
		for addr, fd := range el.acceptors {
			el.lp.Close(fd)
			delete(el.acceptors, addr)
		}
		el.lp.Stop()
	})
	<-el.lp.Done()
}

// acceptor takes new connections from one listening socket.
type acceptor struct {
	el *eventLoop
	fd int
}

func (a acceptor) Ready(uint32) {
	// a few at a time, so that a burst of connections does not starve
	// the ones being served; one when several loops share the listener,
	// as nginx without multi_accept, so that they share the connections
	n := 16
	if a.el.exclusive {
		n = 1
	}
	for range n {
		fd, remote, local, err := evloop.Accept(a.fd)
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR && err != unix.ECONNABORTED {
				a.el.s.log.Error("accept() failed", "err", err)
			}
			return
		}
		a.el.newConn(fd, unmap(remote), unmap(local))
	}
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func (el *eventLoop) newConn(fd int, remote, local netip.AddrPort) {
	s := el.s
	c := &clientConn{id: s.nextID.Add(1), remote: remote, local: local, keepalive: clientHeaderTimeout}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		unix.Close(fd)
		return
	}
	c.rt = s.rt.Load()
	c.rt.conns.Add(1)
	s.connsWG.Add(1)
	s.mu.Unlock()
	lc := &loopConn{Peer: evloop.NewPeer(fd), el: el, c: c}
	lc.Out.Batch(el.lp, lc)
	lc.timer = el.lp.NewTimer(lc.timeout)
	if err := el.lp.Add(fd, evloop.EdgeReadWrite, lc); err != nil {
		unix.Close(fd)
		s.log.Error("accept() failed", "err", err)
		c.rt.connDone()
		s.connsWG.Done()
		return
	}
	el.clients[lc] = struct{}{}
	lc.st = stHead
	lc.timer.Reset(clientHeaderTimeout)
}

// parseRequest parses a request head at the start of data. It returns
// the bytes used, or evloop.ErrIncomplete when more are needed. A head in
// part is parsed too: nginx answers a bad line as soon as it comes.
func (el *eventLoop) parseRequest(data []byte) (*request, int, error) {
	el.src = evloop.SliceReader{B: data}
	el.parser.Reset(&el.src)
	req, err := readRequest(el.parser)
	n, err := el.used(data, err)
	return req, n, err
}

// parseResponse parses an upstream response head at the start of data
// as the goroutine path does (one head: a 100 Continue comes alone).
func (el *eventLoop) parseResponse(data []byte, method string) (*upResponse, int, error) {
	line, _, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return nil, 0, evloop.ErrIncomplete
	}
	// a line that is no status line is enough: HTTP/0.9
	if _, valid := parseStatusLine(bytes.TrimSuffix(line, []byte("\r"))); valid && !evloop.HeadEnds(data) {
		return nil, 0, evloop.ErrIncomplete
	}
	el.src = evloop.SliceReader{B: data}
	el.parser.Reset(&el.src)
	res, err := readOneHead(el.parser, method)
	n, err := el.used(data, err)
	return res, n, err
}

// used is how many bytes of data the parser took; a parser that failed
// after asking for more than data failed for want of more (the parsers
// fold that end into their own errors).
func (el *eventLoop) used(data []byte, err error) (int, error) {
	if err != nil && el.src.Ended {
		return 0, evloop.ErrIncomplete
	}
	return len(data) - len(el.src.B) - el.parser.Buffered(), err
}

// loopLocation routes a request the loop may serve: a location passing
// it to an upstream the loop can reach, with nothing to answer first. It
// enters the request into the server and location, or returns nil and
// leaves x untouched.
func (rt *runtime) loopLocation(x *exchange) *config.Location {
	r := x.req
	if r.contentLen >= 0 || r.chunked || r.expect100 {
		return nil
	}
	if _, ok := r.header("Upgrade"); ok {
		return nil
	}
	v := rt.vhostsFor(x.c.local)
	if v == nil {
		return nil
	}
	srv, caps := v.find(r.host)
	if srv.Return != nil {
		return nil
	}
	loc, lcaps, rc := findLocation(srv.Locations, r.uri, nil)
	if loc == nil || rc == locRedirect || loc.Return != nil || loc.ProxyPass == nil {
		return nil
	}
	if pl := rt.pools[loc.ProxyPass.Upstream]; pl == nil || !pl.loopable() {
		return nil
	}
	if !allowed(loc.Settings.Access, x.c.remote.Addr()) {
		return nil
	}
	x.enterServer(srv, caps)
	x.enterLocation(loc, lcaps)
	return loc
}

// fileConn turns a loop's descriptor into a net.Conn for a goroutine.
func fileConn(fd int, name string) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return net.FileConn(f)
}

// prefixed reads the bytes received on a loop first, then from nc.
func prefixed(data []byte, nc net.Conn) io.Reader {
	if len(data) == 0 {
		return nc
	}
	return io.MultiReader(bytes.NewReader(bytes.Clone(data)), nc)
}

// handOff moves the client connection to a goroutine of the goroutine
// path, which writes the pending output first, then runs then (if set:
// the rest of an exchange) and serves the connection's next requests.
// When the connection cannot go (the server closing), it closes and drop
// (if set) releases what then would have used.
func (lc *loopConn) handOff(then func(ctx context.Context) bool, drop func()) {
	el, c := lc.el, lc.c
	if then == nil {
		el.stats.handedOff++
	} else {
		el.stats.responsesHandedOff++
	}
	if lc.bw != nil {
		_ = lc.bw.Flush()
	}
	// the goroutine path reads bodies and the rest of heads
	lc.quickAck()
	prefix := bytes.Clone(lc.In.Data())
	pending := lc.Out.Pending
	lc.detach(true)
	fail := func() {
		if drop != nil {
			drop()
		}
		c.rt.connDone()
		el.s.connsWG.Done()
	}
	nc, err := fileConn(lc.FD, "client")
	if err != nil {
		el.s.log.Error("cannot hand a connection over", "client", c.remote, "err", err)
		fail()
		return
	}
	c.nc = nc
	c.in = &pendingReader{nc: nc, pending: prefix}
	c.dw = deadlineWriter{c: nc, timeout: sendTimeout}
	el.s.mu.Lock()
	if el.s.closing {
		el.s.mu.Unlock()
		_ = nc.Close()
		fail()
		return
	}
	el.s.conns[c] = struct{}{}
	el.s.mu.Unlock()
	go el.s.serveConn(c, func(ctx context.Context) bool {
		if len(pending) > 0 {
			if _, err := c.dw.Write(pending); err != nil {
				return false
			}
		}
		c.br = getReader(&cReaderPool, c.in)
		c.bw = getWriter(&c.dw)
		if len(prefix) > 0 {
			// buffered, so that the next request is read from them
			_, _ = c.br.Peek(1)
		}
		return then == nil || then(ctx)
	})
}
