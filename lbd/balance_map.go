package lbd

import (
	"net/netip"
	"sync"
)

// MapBalancer reproduces HAProxy's map-based algorithms (lb_map.c):
// "balance static-rr" walks the map in order, "balance source" indexes it
// with a hash of the client address (hash-type map-based, the default).
type MapBalancer struct {
	mu      sync.Mutex
	servers []*Server
	hash    bool
	srv     []*Server
	rrIdx   int
}

func newMapBalancer(servers []*Server, hash bool) *MapBalancer {
	m := &MapBalancer{servers: servers, hash: hash}
	// Weights are divided by their greatest common divisor to keep the
	// map small, as init_server_map does.
	g := 0
	for _, s := range servers {
		if s.Weight > 0 {
			g = gcd(g, s.Weight)
		}
	}
	if g == 0 {
		g = 1
	}
	for _, s := range servers {
		s.lb = lbNode{eweight: s.Weight / g}
	}
	m.rebuild()
	return m
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// rebuild recomputes the map (recalc_server_map): the server with the best
// accumulated score takes each slot, declaration order breaking ties.
func (m *MapBalancer) rebuild() {
	group := usable(m.servers, false)
	if len(group) == 0 {
		group = usable(m.servers, true)
	}
	tot := 0
	for _, s := range group {
		tot += s.lb.eweight
	}
	m.srv = m.srv[:0]
	for _, s := range group {
		s.lb.wscore = 0
	}
	for o := 0; o < tot; o++ {
		var best *Server
		max := 0
		for _, s := range group {
			if tot == 1 {
				best = s
				break
			}
			s.lb.wscore += s.lb.eweight
			v := (s.lb.wscore + tot) / tot
			if best == nil || v > max {
				max, best = v, s
			}
		}
		m.srv = append(m.srv, best)
		if best != nil {
			best.lb.wscore -= tot
		}
	}
	if m.rrIdx >= len(m.srv) {
		m.rrIdx = 0
	}
}

// Pick implements Balancer.
func (m *MapBalancer) Pick(src netip.Addr, avoid *Server) *Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.srv) == 0 {
		return nil
	}
	if m.hash {
		return m.srv[sourceHash(src)%uint32(len(m.srv))]
	}
	idx := m.rrIdx
	first := idx
	var avoided *Server
	for {
		s := m.srv[idx]
		idx = (idx + 1) % len(m.srv)
		if s != avoid {
			m.rrIdx = idx
			return s
		}
		avoided = s
		if idx == first {
			m.rrIdx = idx
			return avoided
		}
	}
}

// sourceHash is HAProxy's "balance source" key for map-based hashing: the
// address XORed 32 bits at a time, in network order.
func sourceHash(a netip.Addr) uint32 {
	b := a.Unmap().AsSlice()
	var h uint32
	for i := 0; i+4 <= len(b); i += 4 {
		h ^= uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
	}
	return h
}

// SetUp implements Balancer.
func (m *MapBalancer) SetUp(*Server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rebuild()
}

// SetDown implements Balancer.
func (m *MapBalancer) SetDown(*Server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rebuild()
}

// Release implements Balancer.
func (m *MapBalancer) Release(*Server) {}
