package lbd

import (
	"time"
)

// maxIdlePerServer bounds the idle connections kept to one server.
const maxIdlePerServer = 64

// idleConn is a kept-alive server connection waiting for a request.
type idleConn struct {
	sc    *serverConn
	since time.Time
}

// getIdle takes the most recently used idle connection to s that has
// carried at least minServed requests, if any (see connect for the
// http-reuse strategies). Connections idle too long are closed on the way.
func (s *Server) getIdle(minServed int) *serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.idle) - 1; i >= 0; i-- {
		ic := s.idle[i]
		if time.Since(ic.since) >= idleServerTimeout {
			ic.sc.close()
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			continue
		}
		if ic.sc.served >= minServed {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			return ic.sc
		}
	}
	return nil
}

// idleServerTimeout drops idle connections the server may have closed.
const idleServerTimeout = 30 * time.Second

// putIdle returns a connection to the pool, closing the oldest beyond the
// bound.
func (s *Server) putIdle(sc *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closedPool {
		sc.close()
		return
	}
	if len(s.idle) >= maxIdlePerServer {
		s.idle[0].sc.close()
		s.idle = append(s.idle[:0], s.idle[1:]...)
	}
	s.idle = append(s.idle, idleConn{sc: sc, since: time.Now()})
}

// closeIdle closes every idle connection and refuses new ones.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ic := range s.idle {
		ic.sc.close()
	}
	s.idle = nil
	s.closedPool = true
}
