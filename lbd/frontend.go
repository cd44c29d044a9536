package lbd

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"halab/lbd/haproxycfg"
)

// Frontend is the running state of a frontend or listen section.
type Frontend struct {
	in        *Instance
	Cfg       *haproxycfg.Proxy
	Name      string
	backends  map[string]*Backend
	self      *Backend // the backend half of a listen section
	listeners []net.Listener
	logs      *logSink // traffic log targets, nil when none

	cumConns atomic.Uint64
	curConns atomic.Int64
	maxConns atomic.Int64
	reqTotal atomic.Uint64
	denied   atomic.Uint64
	reqErr   atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	hrsp     [6]atomic.Uint64
}

func (fe *Frontend) beConns() uint64 {
	if fe.self != nil {
		return fe.self.cumConns.Load()
	}
	return 0
}

func (fe *Frontend) countStatus(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	fe.hrsp[i].Add(1)
}

func (fe *Frontend) acceptLoop(l net.Listener) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Accept()
		if err != nil {
			if fe.in.isStopping() || errors.Is(err, net.ErrClosed) {
				return
			}
			fe.in.Log.Warn("accept failed", "frontend", fe.Name, "err", err)
			time.Sleep(delay)
			continue
		}
		if fe.Cfg.ClientTCPKA {
			if err := keepAlive(c); err != nil {
				fe.in.Log.Warn("option clitcpka", "frontend", fe.Name, "err", err)
			}
		}
		if fe.Cfg.SmartAccepts() {
			// the goroutine path does not tell when it awaits more
			// bytes: quick acknowledgements back (see quickAck)
			_ = setQuickAck(c, true)
		}
		cc := &clientConn{fe: fe, conn: c, rd: readPacer{conn: c}}
		cc.src = addrPort(c.RemoteAddr())
		cc.dst = addrPort(c.LocalAddr())
		fe.accepted(cc)
		go func() {
			defer fe.closed(cc)
			defer c.Close()
			if fe.Cfg.Mode == haproxycfg.ModeHTTP {
				cc.serveHTTP()
			} else {
				cc.serveTCP()
			}
		}()
	}
}

// accepted counts and tracks a new client connection.
func (fe *Frontend) accepted(c *clientConn) {
	fe.in.track(c)
	n := fe.curConns.Add(1)
	if n > fe.maxConns.Load() {
		fe.maxConns.Store(n)
	}
	fe.cumConns.Add(1)
}

// closed is accepted's counterpart, once the connection is closed.
func (fe *Frontend) closed(c *clientConn) {
	fe.in.untrack(c)
	fe.curConns.Add(-1)
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// clientConn is one accepted client connection.
type clientConn struct {
	fe   *Frontend
	conn net.Conn
	src  netip.AddrPort
	dst  netip.AddrPort

	out *countWriter // bytes sent to the client
	rd  readPacer    // the client's read deadline
	// requests counts the requests read on the connection: the first one
	// never takes another client's idle server connection.
	requests int
	bw       *bufio.Writer // buffered writer to the client (HTTP mode)
	// bodyLeft: a request body may still be read after the response, the
	// buffers must not go back to their pool.
	bodyLeft bool

	// loop drives the connection while it runs on the event loop
	// (nil on the goroutine path); guarded by mu.
	loop *loopClient

	mu     sync.Mutex
	idle   bool
	closed bool
}

// setIdle marks the connection as waiting for a new request (true) or
// busy. It returns false when the connection was closed while idle.
func (c *clientConn) setIdle(idle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = idle
	return !c.closed
}

// drainGrace is how long an idle keep-alive connection of a stopping
// instance may still bring one last request (answered with "connection:
// close"). Closing it at once would race with a request already on its
// way.
const drainGrace = time.Second

// drainIdle gives an idle connection drainGrace to bring a last request.
func (c *clientConn) drainIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lc := c.loop; lc != nil {
		lc.hl.lp.Post(lc.drainIdle)
		return
	}
	if c.idle && !c.closed {
		c.conn.SetReadDeadline(time.Now().Add(drainGrace))
	}
}

// abort closes the connection at once.
func (c *clientConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lc := c.loop; lc != nil {
		lc.hl.lp.Post(lc.close)
		return
	}
	if c.conn != nil {
		c.conn.Close()
	}
}

// backendFor runs the frontend's switching rules.
func (fe *Frontend) backendFor(tx *txn) *Backend {
	for _, ub := range fe.Cfg.UseBackends {
		if tx.evalCond(ub.Cond) {
			return fe.backends[ub.Backend]
		}
	}
	if fe.Cfg.DefaultBackend != "" {
		return fe.backends[fe.Cfg.DefaultBackend]
	}
	return fe.self
}

// Listeners returns the frontend's listening sockets.
func (fe *Frontend) Listeners() []net.Listener { return fe.listeners }
