// Package lbd is a load balancer that reads haproxy.cfg and behaves like
// HAProxy 2.6 in HTTP and TCP mode: weighted round robin in HAProxy's
// order, cookie persistence, health checks, header rewriting, statistics
// and a Prometheus exporter.
package lbd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"halab/lbd/haproxycfg"
)

// Instance is one running configuration: its frontends, backends and
// health checks. A reload builds a new Instance that takes over the
// listening sockets of the old one.
type Instance struct {
	Cfg       *haproxycfg.Config
	Log       *slog.Logger
	Frontends []*Frontend
	Backends  []*Backend
	start     time.Time
	bufs      bufPools

	mu        sync.Mutex
	conns     map[*clientConn]struct{}
	stopping  atomic.Bool // set under mu, so that it orders with conns
	connWG    sync.WaitGroup
	acceptWG  sync.WaitGroup
	checkStop context.CancelFunc
	checkWG   sync.WaitGroup
	// loop runs the HTTP frontends it can (nil when none can); the
	// others accept on goroutines (acceptWG)
	loop    *httpLoop
	loopFEs []*Frontend
}

// New builds an Instance from a validated configuration. Nothing listens
// until Listen and Serve are called.
func New(cfg *haproxycfg.Config, log *slog.Logger) (*Instance, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	in := &Instance{Cfg: cfg, Log: log, conns: map[*clientConn]struct{}{}, start: time.Now()}
	byName := map[string]*Backend{}
	for _, px := range cfg.Proxies {
		if px.Cap&haproxycfg.CapBackend == 0 {
			continue
		}
		b := newBackend(in, px)
		byName[px.Name] = b
		in.Backends = append(in.Backends, b)
	}
	for _, px := range cfg.Proxies {
		if px.Cap&haproxycfg.CapFrontend == 0 {
			continue
		}
		fe := &Frontend{in: in, Cfg: px, Name: px.Name, backends: byName}
		targets := append([]haproxycfg.LogTarget(nil), px.Logs...)
		if px.LogGlobal {
			targets = append(targets, cfg.Global.Logs...)
		}
		fe.logs = newLogSink(targets, cfg.Global.LogTag)
		if px.Cap&haproxycfg.CapBackend != 0 {
			fe.self = byName[px.Name]
		}
		in.Frontends = append(in.Frontends, fe)
	}
	return in, nil
}

// Backend returns the backend called name, or nil.
func (in *Instance) Backend(name string) *Backend {
	for _, b := range in.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Listen opens every bind address. Listeners found in inherit (keyed by
// "host:port" as written in the configuration's bind) are reused, which is
// how a reload keeps its sockets.
func (in *Instance) Listen(inherit map[string]net.Listener) error {
	// No TCP keep-alive on accepted connections unless "option clitcpka"
	// asks (the net package would turn it on with its own timings).
	lc := net.ListenConfig{KeepAlive: -1, Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil {
				// SO_REUSEPORT lets a new process bind while the old
				// one still runs (-sf), as HAProxy does.
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0x0f, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	// Plain TCP, as HAProxy listens (Go would otherwise make an MPTCP
	// listener, which refuses TCP options such as TCP_QUICKACK).
	lc.SetMultipathTCP(false)
	for _, fe := range in.Frontends {
		for _, b := range fe.Cfg.Binds {
			addr := net.JoinHostPort(b.Host, fmt.Sprint(b.Port))
			l, ok := inherit[addr]
			if ok {
				delete(inherit, addr)
			} else {
				// "*" and an empty host are IPv4's any address in HAProxy
				network := "tcp"
				if b.Host == "" {
					network = "tcp4"
				}
				var err error
				if l, err = lc.Listen(context.Background(), network, addr); err != nil {
					in.closeListeners()
					return fmt.Errorf("Starting frontend %s: cannot bind socket (%w) [%s]", fe.Name, err, addr)
				}
			}
			fe.listeners = append(fe.listeners, l)
			if err := setQuickAck(l, !fe.Cfg.SmartAccepts()); err != nil {
				in.Log.Warn("cannot set TCP_QUICKACK on a listening socket", "frontend", fe.Name, "addr", addr, "err", err)
			}
		}
	}
	return nil
}

// setQuickAck sets TCP_QUICKACK on a TCP socket (a net.Listener or a
// net.Conn). Off on a listening socket, the connections it accepts
// acknowledge a request with the response rather than at once (HAProxy's
// smart-accept, on in HTTP mode): one segment less a request.
func setQuickAck(sock any, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return setsockoptInt(sock, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, v)
}

func (in *Instance) closeListeners() {
	for _, fe := range in.Frontends {
		for _, l := range fe.listeners {
			l.Close()
		}
	}
}

// Serve starts accepting connections and running health checks. It
// returns at once.
func (in *Instance) Serve() {
	ctx, cancel := context.WithCancel(context.Background())
	in.checkStop = cancel
	for _, b := range in.Backends {
		b.startChecks(ctx, &in.checkWG)
	}
	in.loopFEs = nil
	// LBD_EVENT_LOOP=0 keeps every frontend on goroutines, to compare
	if os.Getenv("LBD_EVENT_LOOP") != "0" {
		for _, fe := range in.Frontends {
			if fe.loopEligible() {
				in.loopFEs = append(in.loopFEs, fe)
			}
		}
	}
	if len(in.loopFEs) > 0 {
		hl, err := newHTTPLoop(in)
		if err != nil {
			in.Log.Warn("no event loop, connections run on goroutines", "err", err)
			in.loopFEs = nil
		} else {
			in.loop = hl
		}
	}
	in.startAccepting()
}

// startAccepting accepts on every listener: the loop's frontends on the
// loop, the others on goroutines.
func (in *Instance) startAccepting() {
	var left map[net.Listener]*Frontend
	if in.loop != nil {
		left = in.loop.startAccepting(in.loopFEs)
	}
	for _, fe := range in.Frontends {
		for _, l := range fe.listeners {
			if slices.Contains(in.loopFEs, fe) && left[l] == nil {
				continue
			}
			in.acceptWG.Add(1)
			go func(l net.Listener) {
				defer in.acceptWG.Done()
				fe.acceptLoop(l)
			}(l)
		}
	}
}

// stopAccepting makes the loop leave the listeners (open, as the
// goroutines' listeners stay).
func (in *Instance) stopAccepting() {
	if in.loop != nil {
		in.loop.stopAccepting()
	}
}

// Resume starts accepting again after a HandOff whose successor failed
// to start.
func (in *Instance) Resume() {
	in.mu.Lock()
	in.stopping.Store(false)
	in.mu.Unlock()
	in.startAccepting()
}

// HandOff stops accepting without closing the listening sockets and
// returns them keyed by address, for the next Instance to Listen with.
func (in *Instance) HandOff() map[string]net.Listener {
	out := map[string]net.Listener{}
	in.mu.Lock()
	in.stopping.Store(true)
	in.mu.Unlock()
	in.stopAccepting()
	for _, fe := range in.Frontends {
		for _, l := range fe.listeners {
			if tl, ok := l.(*net.TCPListener); ok {
				tl.SetDeadline(time.Now())
			}
		}
	}
	in.acceptWG.Wait()
	for _, fe := range in.Frontends {
		for _, l := range fe.listeners {
			if tl, ok := l.(*net.TCPListener); ok {
				tl.SetDeadline(time.Time{})
			}
			out[l.Addr().String()] = l
			for _, b := range fe.Cfg.Binds {
				addr := net.JoinHostPort(b.Host, fmt.Sprint(b.Port))
				if sameListenAddr(l.Addr(), b) {
					out[addr] = l
				}
			}
		}
	}
	return out
}

func sameListenAddr(a net.Addr, b haproxycfg.Bind) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.Port != b.Port {
		return false
	}
	if b.Host == "" {
		return ta.IP.IsUnspecified()
	}
	ip := net.ParseIP(b.Host)
	return ip != nil && ip.Equal(ta.IP)
}

// Drain gives idle client connections a short grace for a last request,
// lets requests in flight finish (their connections close afterwards) and
// stops the health checks. It
// returns when every connection is gone or ctx ends.
func (in *Instance) Drain(ctx context.Context) error {
	in.mu.Lock()
	in.stopping.Store(true)
	for c := range in.conns {
		c.drainIdle()
	}
	in.mu.Unlock()
	if in.checkStop != nil {
		in.checkStop()
	}
	done := make(chan struct{})
	go func() {
		in.connWG.Wait()
		in.checkWG.Wait()
		for _, b := range in.Backends {
			for _, s := range b.Servers {
				s.closeIdle()
			}
		}
		if in.loop != nil {
			in.loop.stop()
		}
		for _, fe := range in.Frontends {
			fe.logs.close()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		in.mu.Lock()
		for c := range in.conns {
			c.abort()
		}
		in.mu.Unlock()
		return ctx.Err()
	}
}

// Close is a hard stop (SIGTERM): listening sockets and connections are
// closed at once, health checks stop.
func (in *Instance) Close() {
	in.mu.Lock()
	in.stopping.Store(true)
	in.mu.Unlock()
	in.stopAccepting()
	in.closeListeners()
	in.acceptWG.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in.Drain(ctx)
}

// Shutdown stops accepting (closing the listening sockets) and drains.
func (in *Instance) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	in.stopping.Store(true)
	in.mu.Unlock()
	in.stopAccepting()
	in.closeListeners()
	in.acceptWG.Wait()
	for _, fe := range in.Frontends {
		in.Log.Warn(fmt.Sprintf("Proxy %s stopped (cumulated conns: FE: %d, BE: %d).", fe.Name, fe.cumConns.Load(), fe.beConns()))
	}
	for _, b := range in.Backends {
		if b.frontendOf() == nil {
			in.Log.Warn(fmt.Sprintf("Proxy %s stopped (cumulated conns: FE: 0, BE: %d).", b.Name, b.cumConns.Load()))
		}
	}
	return in.Drain(ctx)
}

func (in *Instance) isStopping() bool { return in.stopping.Load() }

func (in *Instance) track(c *clientConn) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.conns[c] = struct{}{}
	in.connWG.Add(1)
}

func (in *Instance) untrack(c *clientConn) {
	in.mu.Lock()
	delete(in.conns, c)
	in.mu.Unlock()
	in.connWG.Done()
}
