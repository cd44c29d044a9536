package lbd

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
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

	// conns counts the connections to the server for the idle pools;
	// pool holds the goroutine path's idle ones, guarded by mu
	conns      *connCounts
	pool       connPool[*serverConn]
	purge      *time.Timer // runs the pool's purge
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
// HAProxy makes; a name with the net package's resolver. TCP keep-alive is
// on only with "option srvtcpka".
func (s *Server) dial(localPort int, timeout time.Duration) (net.Conn, error) {
	port := s.Cfg.Port
	if port == 0 {
		port = localPort
	}
	var conn net.Conn
	var err error
	if s.ip.IsValid() {
		conn, err = tcpdial.Dial(context.Background(), netip.AddrPortFrom(s.ip, uint16(port)), timeout)
	} else {
		d := net.Dialer{Timeout: timeout, KeepAlive: -1}
		conn, err = d.Dial("tcp", s.address(localPort))
	}
	if err != nil || s.Backend == nil || !s.Backend.Cfg.ServerTCPKA {
		return conn, err
	}
	if err := keepAlive(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// keepAlive turns on TCP keep-alive probes on c with the system's timings
// (SO_KEEPALIVE alone), as HAProxy's tcpka options do.
func keepAlive(c net.Conn) error {
	return setsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
}

// setsockoptInt sets an integer option on a socket the net package holds
// (a net.Conn, a net.Listener); others are left alone.
func setsockoptInt(sock any, level, opt, v int) error {
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rawSetsockoptInt(rc, level, opt, v)
}

// rawSetsockoptInt is setsockoptInt on a raw connection (as a dialer's
// Control gets it).
func rawSetsockoptInt(rc syscall.RawConn, level, opt, v int) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), level, opt, v)
	}); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("setsockopt", serr)
	}
	return nil
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
