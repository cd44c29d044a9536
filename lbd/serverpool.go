package lbd

import (
	"time"
)

// The goroutine path's idle server connections: one pool per server (see
// connpool.go), guarded by the server's lock.

// getIdle takes the oldest pooled connection to s that a request may
// reuse, if any.
func (s *Server) getIdle(k reuseKind) *serverConn {
	if k == reuseNone {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.pool.take(k)
	if !ok {
		return nil
	}
	sc.pooled = false
	return sc
}

// putIdle offers a connection whose request is over to the pool, and
// closes it when the pool does not keep it.
func (s *Server) putIdle(sc *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closedPool {
		sc.close()
		return
	}
	kept, purgeAt := s.pool.put(sc, sc.served > 1, time.Now())
	if !kept {
		sc.close()
		return
	}
	sc.pooled = true
	s.schedulePurge(purgeAt)
}

// schedulePurge arms the pool's purge for when; s.mu is held.
func (s *Server) schedulePurge(when time.Time) {
	if when.IsZero() {
		return
	}
	d := time.Until(when)
	if s.purge == nil {
		s.purge = time.AfterFunc(d, s.purgeIdle)
		return
	}
	s.purge.Reset(d)
}

// purgeIdle closes the pool's surplus connections when the purge is due.
func (s *Server) purgeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closedPool {
		return
	}
	kill, next := s.pool.purge(time.Now())
	for _, sc := range kill {
		sc.pooled = false
		sc.closeConn()
	}
	s.schedulePurge(next)
}

// closeIdle closes every idle connection and refuses new ones.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.pool.drain() {
		sc.pooled = false
		sc.closeConn()
	}
	if s.purge != nil {
		s.purge.Stop()
	}
	s.closedPool = true
}
