package proxyd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"halab/proxyd/config"
)

// Server owns the listening sockets and the running configuration, and
// swaps configurations on Reload without dropping requests in flight.
type Server struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	rt        atomic.Pointer[runtime]
	listeners map[netip.AddrPort]net.Listener
	conns     map[*clientConn]struct{}
	connsWG   sync.WaitGroup
	acceptWG  sync.WaitGroup
	nextID    atomic.Uint64
	stopping  bool
	closing   bool // Close: connections handed over by a loop close too

	errFiles logFiles
	// loops serve connections, one per worker process; none: goroutines
	loops []*eventLoop
}

// workerLoops is how many event loops serve connections for a
// worker_processes setting, as nginx runs that many worker processes:
// the number, or for "auto" one per CPU the runtime may use (GOMAXPROCS,
// which cmd/proxyd sets from the same setting). A reload keeps the count
// the server started with.
func workerLoops(setting string) int {
	if n, err := strconv.Atoi(setting); err == nil && n > 0 {
		return n
	}
	return goruntime.GOMAXPROCS(0)
}

// New loads cfg and binds its listen addresses. Call Serve to accept.
func New(cfg *config.Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{log: log, ctx: ctx, cancel: cancel, listeners: map[netip.AddrPort]net.Listener{}, conns: map[*clientConn]struct{}{}}
	rt, err := s.newRuntime(cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	added, err := s.bind(rt.listenAddrs())
	if err != nil {
		rt.close()
		cancel()
		return nil, err
	}
	s.rt.Store(rt)
	if os.Getenv("PROXYD_EVENT_LOOP") != "0" {
		n := workerLoops(cfg.WorkerProcesses)
		for range n {
			el, err := newEventLoop(s, n > 1)
			if err != nil {
				log.Warn("no event loop, goroutines serve", "err", err)
				break
			}
			s.loops = append(s.loops, el)
		}
	}
	for _, a := range added {
		s.startAccept(a)
	}
	return s, nil
}

func (s *Server) newRuntime(cfg *config.Config) (*runtime, error) {
	var el *errorLog
	if cfg.ErrorLog != "" {
		f, err := s.errFiles.open(cfg.ErrorLog)
		if err != nil {
			return nil, err
		}
		el = newErrorLog(f, cfg.ErrorLogLevel)
	}
	return newRuntime(cfg, el)
}

// Addrs returns the bound listen addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// bind opens listeners for addresses not yet bound and returns them. On
// failure nothing new stays open.
func (s *Server) bind(addrs []netip.AddrPort) ([]netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var added []netip.AddrPort
	for _, a := range addrs {
		if _, ok := s.listeners[a]; ok {
			continue
		}
		// accepted connections get no TCP keep-alive probes, as in nginx
		// without so_keepalive
		lc := net.ListenConfig{KeepAlive: -1}
		// plain TCP, as nginx listens (Go would make an MPTCP listener)
		lc.SetMultipathTCP(false)
		// "tcp6" makes [::] listeners IPv6-only, as nginx's ipv6only=on
		// default, so that "listen 80" and "listen [::]:80" coexist
		network := "tcp4"
		if !a.Addr().Is4() {
			network = "tcp6"
		}
		l, err := lc.Listen(s.ctx, network, a.String())
		if err != nil {
			for _, b := range added {
				_ = s.listeners[b].Close()
				delete(s.listeners, b)
			}
			return nil, fmt.Errorf("bind() to %s failed: %w", a, err)
		}
		s.listeners[a] = l
		added = append(added, a)
	}
	return added, nil
}

func (s *Server) startAccept(a netip.AddrPort) {
	s.mu.Lock()
	l := s.listeners[a]
	s.mu.Unlock()
	if len(s.loops) > 0 {
		taken := false
		for _, el := range s.loops {
			if err := el.accept(a, l); err != nil {
				s.log.Warn("cannot accept on an event loop", "listen", a, "err", err)
				continue
			}
			taken = true
		}
		if taken {
			return
		}
	}
	s.acceptWG.Add(1)
	go func() {
		defer s.acceptWG.Done()
		s.acceptLoop(l)
	}()
}

func (s *Server) acceptLoop(l net.Listener) {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: back off as net/http does
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Error("accept() failed", "err", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := &clientConn{
			id:        s.nextID.Add(1),
			nc:        nc,
			dw:        deadlineWriter{c: nc, timeout: sendTimeout},
			remote:    addrPortOf(nc.RemoteAddr()),
			local:     addrPortOf(nc.LocalAddr()),
			rt:        s.rt.Load(),
			keepalive: clientHeaderTimeout,
		}
		c.in = &pendingReader{nc: nc}
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			_ = nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		c.rt.conns.Add(1)
		s.connsWG.Add(1)
		s.mu.Unlock()
		go s.serveConn(c, nil)
	}
}

// serveConn serves c until it ends, then closes and forgets it, after a
// panic too. first, if set, runs before and says whether to go on (a
// connection taken over from an event loop finishes its exchange).
func (s *Server) serveConn(c *clientConn, first func(ctx context.Context) bool) {
	defer func() {
		// one bad request must not take the daemon down
		if p := recover(); p != nil {
			s.log.Error("panic serving connection", "client", c.remote, "panic", p, "stack", string(debug.Stack()))
		} else if !c.hijacked {
			c.releaseBuffers()
		}
		_ = c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.rt.connDone()
		s.connsWG.Done()
	}()
	if first == nil || first(s.ctx) {
		c.serve(s.ctx)
	}
}

// Reload switches to cfg: new connections use it at once, connections
// busy with a request finish it under the old configuration. On error the
// old configuration keeps running.
func (s *Server) Reload(cfg *config.Config) error {
	rt, err := s.newRuntime(cfg)
	if err != nil {
		return err
	}
	want := rt.listenAddrs()
	added, err := s.bind(want)
	if err != nil {
		rt.close()
		return err
	}
	old := s.rt.Swap(rt)
	for _, a := range added {
		s.startAccept(a)
	}
	keep := map[netip.AddrPort]bool{}
	for _, a := range want {
		keep[a] = true
	}
	s.mu.Lock()
	var gone []netip.AddrPort
	for a := range s.listeners {
		if !keep[a] {
			gone = append(gone, a)
		}
	}
	s.mu.Unlock()
	for _, a := range gone {
		for _, el := range s.loops {
			el.stopAccepting(a)
		}
		s.mu.Lock()
		_ = s.listeners[a].Close()
		delete(s.listeners, a)
		s.mu.Unlock()
	}
	s.retire(old, false)
	s.log.Info("configuration reloaded", "file", cfg.File)
	return nil
}

// retire drains a replaced runtime (or the running one at a stop): idle
// keep-alive connections close now, busy ones after their current
// request, new ones after their first at a reload and now at a stop;
// resources go when the last ends.
func (s *Server) retire(rt *runtime, stop bool) {
	rt.stopping.Store(stop)
	rt.retire()
	s.mu.Lock()
	for c := range s.conns {
		if w := c.waiting.Load(); c.rt == rt && w > 0 && rt.closesWaiting(int(w-1)) {
			_ = c.nc.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	for _, el := range s.loops {
		el.closeIdle(rt)
	}
	rt.connDone()
}

// ReopenLogs reopens the access and error logs, for log rotation.
func (s *Server) ReopenLogs() error {
	err := s.errFiles.reopen()
	if rt := s.rt.Load(); rt != nil {
		if e := rt.logs.reopen(); err == nil {
			err = e
		}
	}
	return err
}

// Shutdown stops gracefully, as nginx on SIGQUIT: stop accepting, let
// requests in flight finish, close idle connections. It returns when all
// connections are done or ctx ends (then it closes them).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopListening()
	s.retire(s.rt.Load(), true)
	done := make(chan struct{})
	go func() {
		s.connsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		s.stopLoops()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops at once, as nginx on SIGTERM: listeners and connections
// are closed.
func (s *Server) Close() {
	s.stopListening()
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	for _, el := range s.loops {
		el.closeIdle(nil)
	}
	s.cancel()
	s.connsWG.Wait()
	s.stopLoops()
	if rt := s.rt.Load(); rt != nil {
		rt.close()
	}
	s.errFiles.close()
}

// stopLoops ends the event loops once their connections are gone.
func (s *Server) stopLoops() {
	for _, el := range s.loops {
		el.stop() // (again after a graceful stop: returns at once)
	}
}

func (s *Server) stopListening() {
	for _, el := range s.loops {
		el.stopAccepting(netip.AddrPort{})
	}
	s.mu.Lock()
	s.stopping = true
	for a, l := range s.listeners {
		_ = l.Close()
		delete(s.listeners, a)
	}
	s.mu.Unlock()
	s.acceptWG.Wait()
}
