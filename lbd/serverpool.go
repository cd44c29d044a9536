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

// getIdle takes the most recently used idle connection to s, if any, as
// HAProxy's "http-reuse safe" shares idle server connections between
// client connections.
func (s *Server) getIdle() *serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		ic := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(ic.since) < idleServerTimeout {
			return ic.sc
		}
		ic.sc.conn.Close()
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
		sc.conn.Close()
		return
	}
	if len(s.idle) >= maxIdlePerServer {
		s.idle[0].sc.conn.Close()
		s.idle = append(s.idle[:0], s.idle[1:]...)
	}
	s.idle = append(s.idle, idleConn{sc: sc, since: time.Now()})
}

// closeIdle closes every idle connection and refuses new ones.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ic := range s.idle {
		ic.sc.conn.Close()
	}
	s.idle = nil
	s.closedPool = true
}
