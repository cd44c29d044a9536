package lbd

import (
	"net/netip"
	"sync"
)

// LeastConn reproduces HAProxy's "balance leastconn" (lb_fwlc.c): servers
// are ordered by (connections+1)/weight, and among equals the one requeued
// the longest ago goes first, so idle servers take turns.
type LeastConn struct {
	mu      sync.Mutex
	servers []*Server
	seq     map[*Server]uint64
	n       uint64
}

func newLeastConn(servers []*Server) *LeastConn {
	l := &LeastConn{servers: servers, seq: map[*Server]uint64{}}
	for _, s := range servers {
		l.n++
		l.seq[s] = l.n
	}
	return l
}

func (l *LeastConn) key(s *Server) int {
	ew := s.Weight * beWeightScale
	return (int(s.cur.Load()) + 1) * srvEWeightMax / ew
}

// Pick implements Balancer.
func (l *LeastConn) Pick(_ netip.Addr, avoid *Server) *Server {
	l.mu.Lock()
	defer l.mu.Unlock()
	group := usable(l.servers, false)
	if len(group) == 0 {
		group = usable(l.servers, true)
		if len(group) > 0 {
			group = group[:1] // first backup only, as without "option allbackups"
		}
	}
	var best, avoided *Server
	for _, s := range group {
		if s == avoid {
			avoided = s
			continue
		}
		if best == nil || l.key(s) < l.key(best) || (l.key(s) == l.key(best) && l.seq[s] < l.seq[best]) {
			best = s
		}
	}
	if best == nil {
		best = avoided
	}
	if best != nil {
		l.n++
		l.seq[best] = l.n
	}
	return best
}

// Release implements Balancer.
func (l *LeastConn) Release(s *Server) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.seq[s] = l.n
}

// SetUp implements Balancer.
func (l *LeastConn) SetUp(*Server) {}

// SetDown implements Balancer.
func (l *LeastConn) SetDown(*Server) {}

// First is "balance first": the first server (by declaration order) with a
// free slot; without maxconn that is simply the first usable server.
type First struct{ servers []*Server }

func newFirst(servers []*Server) *First { return &First{servers: servers} }

// Pick implements Balancer.
func (f *First) Pick(_ netip.Addr, avoid *Server) *Server {
	group := usable(f.servers, false)
	if len(group) == 0 {
		group = usable(f.servers, true)
	}
	for _, s := range group {
		if s != avoid {
			return s
		}
	}
	if len(group) > 0 {
		return group[0]
	}
	return nil
}

// SetUp implements Balancer.
func (f *First) SetUp(*Server) {}

// SetDown implements Balancer.
func (f *First) SetDown(*Server) {}

// Release implements Balancer.
func (f *First) Release(*Server) {}
