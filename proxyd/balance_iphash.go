package proxyd

import "time"

// ipHashPolicy is nginx's ip_hash: the first three octets of an IPv4
// client (the whole IPv6 address) hashed with nginx's function, so a
// client lands on the same server nginx would choose.
type ipHashPolicy struct{}

func (ipHashPolicy) start(p *pool, x *exchange) selector {
	s := &ipHashState{rrState: newRRState(p), hash: 89}
	a := x.c.remote.Addr().Unmap()
	if a.Is4() {
		b := a.As4()
		s.addr = b[:3]
	} else {
		b := a.As16()
		s.addr = b[:]
	}
	return s
}

type ipHashState struct {
	*rrState
	addr     []byte
	hash     uint32
	attempts int
}

func (s *ipHashState) next(now time.Time) *peer {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	set := s.pool.primary
	if s.attempts > 20 || set.single || set.totalWeight == 0 {
		return s.nextLocked(now)
	}
	hash := s.hash
	for {
		for _, c := range s.addr {
			hash = (hash*113 + uint32(c)) % 6271
		}
		w := int(hash % uint32(set.totalWeight))
		p := 0
		for w >= set.peers[p].weight {
			w -= set.peers[p].weight
			p++
		}
		pe := set.peers[p]
		if !s.tried[p] && pe.usable(now) {
			if now.Sub(pe.checked) > pe.failTimeout {
				pe.checked = now
			}
			s.tried[p] = true
			s.hash = hash
			pe.conns++
			return pe
		}
		s.attempts++
		if s.attempts > 20 {
			return s.nextLocked(now)
		}
	}
}
