package lbd

import (
	"net/netip"
)

// Balancer picks a server for a new request or connection. Implementations
// are safe for concurrent use.
type Balancer interface {
	// Pick returns a usable server, avoiding avoid when another one is
	// available (HAProxy's "srvtoavoid" for redispatch), or nil.
	Pick(src netip.Addr, avoid *Server) *Server
	// SetUp and SetDown tell the balancer a server changed state.
	SetUp(s *Server)
	SetDown(s *Server)
	// Release tells the balancer a connection to s ended (leastconn).
	Release(s *Server)
}

// Scales HAProxy uses for weights (backend.h).
const (
	beWeightScale = 16
	srvUWeightMax = 256
	srvEWeightMax = srvUWeightMax * beWeightScale
	srvUWRange    = 256
)

// newBalancer builds the algorithm named by a "balance" keyword.
func newBalancer(algo string, servers []*Server) Balancer {
	switch algo {
	case "static-rr":
		return newMapBalancer(servers, false)
	case "source":
		return newMapBalancer(servers, true)
	case "leastconn":
		return newLeastConn(servers)
	case "first":
		return newFirst(servers)
	case "random":
		return newRandom(servers)
	default:
		return newFWRR(servers)
	}
}

// usable servers of a group (active when backup is false).
func usable(servers []*Server, backup bool) []*Server {
	var out []*Server
	for _, s := range servers {
		if s.Backup == backup && s.Up() && s.Weight > 0 {
			out = append(out, s)
		}
	}
	return out
}
