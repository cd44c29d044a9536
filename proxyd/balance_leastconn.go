package proxyd

import "time"

// leastConnPolicy is nginx's least_conn: fewest active connections
// relative to weight, ties broken by weighted round robin.
type leastConnPolicy struct{}

func (leastConnPolicy) start(p *pool, _ *exchange) selector {
	return &leastConnState{rrState: newRRState(p)}
}

type leastConnState struct{ *rrState }

func (s *leastConnState) next(now time.Time) *peer {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	for {
		if pe := s.pick(now); pe != nil {
			pe.conns++
			return pe
		}
		if s.set == s.pool.primary && s.pool.backup != nil {
			s.set = s.pool.backup
			s.tried = make([]bool, len(s.set.peers))
			continue
		}
		return nil
	}
}

func (s *leastConnState) pick(now time.Time) *peer {
	var best *peer
	bi := -1
	many := false
	for i, pe := range s.set.peers {
		if s.tried[i] || !pe.usable(now) {
			continue
		}
		switch {
		case best == nil || pe.conns*best.weight < best.conns*pe.weight:
			best, bi, many = pe, i, false
		case pe.conns*best.weight == best.conns*pe.weight:
			many = true
		}
	}
	if best == nil {
		return nil
	}
	if many {
		total := 0
		first := best
		for i := bi; i < len(s.set.peers); i++ {
			pe := s.set.peers[i]
			if s.tried[i] || !pe.usable(now) {
				continue
			}
			if pe.conns*first.weight != first.conns*pe.weight {
				continue
			}
			pe.currentWeight += pe.effectiveWeight
			total += pe.effectiveWeight
			if pe.effectiveWeight < pe.weight {
				pe.effectiveWeight++
			}
			if pe.currentWeight > best.currentWeight {
				best, bi = pe, i
			}
		}
		best.currentWeight -= total
	}
	if now.Sub(best.checked) > best.failTimeout {
		best.checked = now
	}
	s.tried[bi] = true
	return best
}
