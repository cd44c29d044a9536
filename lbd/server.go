package lbd

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"halab/internal/tcpdial"
	"halab/lbd/haproxycfg"
)

// Server is the running state of one "server" line.
type Server struct {
	Cfg     *haproxycfg.Server
	Name    string
	Backend *Backend
	Backup  bool
	Weight  int // user weight, 0..256

	ip netip.Addr // the address, when it is one (resolved at load)

	mu       sync.Mutex
	up       bool // usable by the load balancer
	maint    bool // "disabled"
	health   int  // HAProxy's check health counter
	lastChg  time.Time
	lastChk  string
	checkDur time.Duration

	cur        atomic.Int64  // connections being served
	max        atomic.Int64  // highest cur seen
	total      atomic.Uint64 // connections sent to this server
	failedConn atomic.Uint64
	failedResp atomic.Uint64
	retried    atomic.Uint64
	redisp     atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	chkFail    atomic.Uint64
	downTrans  atomic.Uint64
	hrsp       [6]atomic.Uint64 // 1xx..5xx, other

	lb lbNode // balancer bookkeeping, guarded by the balancer's lock

	idle       []idleConn // kept-alive connections, guarded by mu
	closedPool bool
}

// lbNode holds per-server fields the balancing algorithms keep.
type lbNode struct {
	tree    *fwrrTree // tree the server sits in, nil when out of the group
	key     uint32
	seq     uint64
	npos    int
	lpos    int
	rweight int
	eweight int
	wscore  int
}

// Up reports whether the server currently takes traffic.
func (s *Server) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up && !s.maint
}

// State returns the state word HAProxy's stats page prints.
func (s *Server) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.maint:
		return "MAINT"
	case !s.Cfg.Check:
		if s.up {
			return "no check"
		}
		return "DOWN"
	case s.up:
		if s.health < s.Cfg.Rise+s.Cfg.Fall-1 && s.health >= s.Cfg.Rise {
			return "UP " + strconv.Itoa(s.health-s.Cfg.Rise+1) + "/" + strconv.Itoa(s.Cfg.Fall)
		}
		return "UP"
	default:
		if s.health > 0 {
			return "DOWN " + strconv.Itoa(s.health) + "/" + strconv.Itoa(s.Cfg.Rise)
		}
		return "DOWN"
	}
}

// address returns the dial address; port 0 takes the client's destination
// port as HAProxy does.
func (s *Server) address(localPort int) string {
	port := s.Cfg.Port
	if port == 0 {
		port = localPort
	}
	return net.JoinHostPort(s.host(), strconv.Itoa(port))
}

// dial connects to the server (on localPort when it names none) within
// timeout. An IP address is dialled with internal/tcpdial, the system calls
// HAProxy makes; a name with the net package's resolver.
func (s *Server) dial(localPort int, timeout time.Duration) (net.Conn, error) {
	port := s.Cfg.Port
	if port == 0 {
		port = localPort
	}
	if s.ip.IsValid() {
		return tcpdial.Dial(context.Background(), netip.AddrPortFrom(s.ip, uint16(port)), timeout)
	}
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", s.address(localPort))
}

// host is the resolved server address (the name when not resolved).
func (s *Server) host() string {
	if s.Cfg.IP != "" {
		return s.Cfg.IP
	}
	return s.Cfg.Host
}

// checkAddress is where health checks connect.
func (s *Server) checkAddress() string {
	port := s.Cfg.CheckPort
	if port == 0 {
		port = s.Cfg.Port
	}
	return net.JoinHostPort(s.host(), strconv.Itoa(port))
}

func (s *Server) countStatus(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	s.hrsp[i].Add(1)
}
