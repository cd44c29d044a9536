package lbd

import (
	"math/rand/v2"
	"net/netip"
)

// Random is "balance random" as HAProxy 2.6 runs it by default: two
// servers are drawn at random in proportion to their weights and the one
// with fewer connections wins (power of two choices).
type Random struct {
	servers []*Server
}

func newRandom(servers []*Server) *Random { return &Random{servers: servers} }

func (r *Random) draw(group []*Server) *Server {
	total := 0
	for _, s := range group {
		total += s.Weight
	}
	if total == 0 {
		return nil
	}
	n := rand.IntN(total)
	for _, s := range group {
		if n < s.Weight {
			return s
		}
		n -= s.Weight
	}
	return group[len(group)-1]
}

// Pick implements Balancer.
func (r *Random) Pick(_ netip.Addr, avoid *Server) *Server {
	group := usable(r.servers, false)
	if len(group) == 0 {
		if bck := usable(r.servers, true); len(bck) > 0 {
			return bck[0]
		}
		return nil
	}
	if avoid != nil && len(group) > 1 {
		out := group[:0:0]
		for _, s := range group {
			if s != avoid {
				out = append(out, s)
			}
		}
		group = out
	}
	a, b := r.draw(group), r.draw(group)
	if b != nil && b.cur.Load() < a.cur.Load() {
		return b
	}
	return a
}

// SetUp implements Balancer.
func (r *Random) SetUp(*Server) {}

// SetDown implements Balancer.
func (r *Random) SetDown(*Server) {}

// Release implements Balancer.
func (r *Random) Release(*Server) {}
