package lbd

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"halab/lbd/haproxycfg"
)

// Backend is the running state of a backend (or of the backend half of a
// listen section): its servers, balancer and health checks.
type Backend struct {
	in       *Instance
	Cfg      *haproxycfg.Proxy
	Name     string
	Servers  []*Server
	Balancer Balancer

	cumConns atomic.Uint64
	reqTotal atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	hrsp     [6]atomic.Uint64
}

func newBackend(in *Instance, px *haproxycfg.Proxy) *Backend {
	b := &Backend{in: in, Cfg: px, Name: px.Name}
	for _, sc := range px.Servers {
		s := &Server{Cfg: sc, Name: sc.Name, Backend: b, Backup: sc.Backup, Weight: sc.Weight,
			up: !sc.Disabled, maint: sc.Disabled, health: sc.Rise}
		s.ip, _ = netip.ParseAddr(s.host())
		s.conns = newConnCounts(sc)
		s.pool.counts = s.conns
		b.Servers = append(b.Servers, s)
	}
	b.Balancer = newBalancer(px.Balance.Algo, b.Servers)
	return b
}

func (b *Backend) countStatus(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	b.hrsp[i].Add(1)
}

// frontendOf returns the frontend sharing this backend's listen section.
func (b *Backend) frontendOf() *Frontend {
	for _, fe := range b.in.Frontends {
		if fe.self == b {
			return fe
		}
	}
	return nil
}

// counts returns the usable active and backup servers.
func (b *Backend) counts() (act, bck int) {
	for _, s := range b.Servers {
		if s.Up() {
			if s.Backup {
				bck++
			} else {
				act++
			}
		}
	}
	return act, bck
}

// startChecks launches one health-check goroutine per checked server.
func (b *Backend) startChecks(ctx context.Context, wg *sync.WaitGroup) {
	for _, s := range b.Servers {
		if !s.Cfg.Check || s.Cfg.Disabled {
			continue
		}
		wg.Add(1)
		go func(s *Server) {
			defer wg.Done()
			b.runChecks(ctx, s)
		}(s)
	}
}

// serverLabel is "Server" or "Backup Server" as HAProxy logs it.
func serverLabel(s *Server) string {
	if s.Backup {
		return "Backup Server"
	}
	return "Server"
}

func (b *Backend) stateSummary(up bool) string {
	act, bck := b.counts()
	verb := "left"
	if up {
		verb = "online"
	}
	msg := fmt.Sprintf("%d active and %d backup servers %s.", act, bck, verb)
	if act == 0 && bck > 0 {
		msg += " Running on backup."
	}
	return msg
}
