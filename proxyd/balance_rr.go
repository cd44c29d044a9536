package proxyd

import "time"

// roundRobinPolicy is nginx's smooth weighted round robin with backup
// servers (ngx_http_upstream_round_robin.c).
type roundRobinPolicy struct{}

func (roundRobinPolicy) start(p *pool, _ *exchange) selector { return newRRState(p) }

// rrState is the per-request state: the set being tried and which of its
// peers were tried already.
type rrState struct {
	pool  *pool
	set   *peerSet
	tried []bool
}

func newRRState(p *pool) *rrState {
	return &rrState{pool: p, set: p.primary, tried: make([]bool, len(p.primary.peers))}
}

func (s *rrState) tries() int {
	n := len(s.pool.primary.peers)
	if s.pool.backup != nil {
		n += len(s.pool.backup.peers)
	}
	return n
}

func (s *rrState) next(now time.Time) *peer {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.nextLocked(now)
}

func (s *rrState) nextLocked(now time.Time) *peer {
	for {
		var best *peer
		if s.set.single {
			if pe := s.set.peers[0]; !pe.down {
				best = pe
			}
		} else {
			best = s.getPeer(now)
		}
		if best != nil {
			best.conns++
			return best
		}
		if s.set == s.pool.primary && s.pool.backup != nil {
			s.set = s.pool.backup
			s.tried = make([]bool, len(s.set.peers))
			continue
		}
		return nil
	}
}

// getPeer is ngx_http_upstream_get_peer: raise every usable peer's current
// weight by its effective weight, pick the highest, lower it by the total.
func (s *rrState) getPeer(now time.Time) *peer {
	var best *peer
	bi, total := -1, 0
	for i, pe := range s.set.peers {
		if s.tried[i] || !pe.usable(now) {
			continue
		}
		pe.currentWeight += pe.effectiveWeight
		total += pe.effectiveWeight
		if pe.effectiveWeight < pe.weight {
			pe.effectiveWeight++
		}
		if best == nil || pe.currentWeight > best.currentWeight {
			best, bi = pe, i
		}
	}
	if best == nil {
		return nil
	}
	s.tried[bi] = true
	best.currentWeight -= total
	if now.Sub(best.checked) > best.failTimeout {
		best.checked = now
	}
	return best
}

// markTried records a peer chosen by another policy on the same state.
func (s *rrState) markTried(p *peer) {
	for i, pe := range s.set.peers {
		if pe == p {
			s.tried[i] = true
		}
	}
}

func (s *rrState) free(p *peer, failed bool, now time.Time) {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	p.conns--
	if s.set.single && s.set == s.pool.primary {
		return
	}
	if failed {
		p.fails++
		p.accessed = now
		p.checked = now
		if p.maxFails > 0 {
			p.effectiveWeight -= p.weight / p.maxFails
		}
		if p.effectiveWeight < 0 {
			p.effectiveWeight = 0
		}
		return
	}
	if p.accessed.Before(p.checked) {
		p.fails = 0
	}
}
