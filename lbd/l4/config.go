package l4

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"halab/internal/kaconf"
)

// keepalived's defaults (keepalived.conf(5), LVS CONFIGURATION).
const (
	DefaultDelayLoop         = 60 * time.Second
	DefaultConnectTimeout    = 5 * time.Second
	DefaultRetry             = 1
	DefaultTCPRetryDelay     = 1 * time.Second
	DefaultHTTPRetryDelay    = 3 * time.Second
	DefaultPersistence       = 360 * time.Second
	maxWeight                = 2147483647
	defaultHTTPStatusLo      = 200
	defaultHTTPStatusHi      = 299
	checkKindTCP             = "TCP_CHECK"
	checkKindHTTP            = "HTTP_GET"
	defaultQuorum            = 1
	maxPersistenceTimeoutSec = 2678400 // keepalived's upper bound (31 days)
)

// Config is what lbd's L4 mode reads from keepalived.conf: the
// virtual_server blocks. Everything else (global_defs, vrrp_*) belongs to
// vrrpd and is ignored.
type Config struct {
	Services []*VirtualServer
	// Warnings name keywords that were accepted but have no effect, as
	// "FILE:LINE: ..." lines (keepalived logs its own unknown keywords too).
	Warnings []string
}

// VirtualServer is one virtual_server block.
type VirtualServer struct {
	Pos         string // FILE:LINE of the block
	VIP         netip.AddrPort
	Algo        Algo
	Persistence time.Duration
	Sorry       netip.AddrPort // invalid when not configured
	Quorum      int            // minimum total weight of live real servers
	Reals       []*RealServer
}

// Spec is the datapath's view of the virtual server.
func (v *VirtualServer) Spec() ServiceSpec {
	s := ServiceSpec{VIP: v.VIP, Algo: v.Algo, Persistence: v.Persistence, Sorry: v.Sorry}
	for _, rs := range v.Reals {
		s.Reals = append(s.Reals, rs.Addr)
	}
	return s
}

// RealServer is one real_server block.
type RealServer struct {
	Pos    string
	Addr   netip.AddrPort
	Weight int
	Alpha  bool // start as down until the checkers succeed
	Checks []*Check
}

// Check is one health checker of a real server (TCP_CHECK or HTTP_GET).
type Check struct {
	Pos              string
	Kind             string         // "TCP_CHECK" or "HTTP_GET"
	Target           netip.AddrPort // connect_ip/connect_port, defaulting to the real server
	BindTo           netip.Addr     // bindto; invalid: any
	ConnectTimeout   time.Duration
	Retry            int
	DelayBeforeRetry time.Duration
	DelayLoop        time.Duration
	Warmup           time.Duration // random delay before the first check, at most this
	URLs             []URL         // HTTP_GET only
	VirtualHost      string        // HTTP_GET Host header; empty: the target address
}

// URL is one url block of an HTTP_GET checker.
type URL struct {
	Path        string
	StatusCodes []StatusRange // default 200-299
	Digest      string        // lower-case hex MD5 of the body; empty: not checked
	VirtualHost string
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// Match reports whether code is accepted by the url's status_code list.
func (u URL) Match(code int) bool {
	for _, r := range u.StatusCodes {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// LoadConfig reads keepalived.conf at path (following includes).
func LoadConfig(path string) (*Config, error) {
	stmts, err := kaconf.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return FromStmts(stmts)
}

// ParseConfig reads keepalived.conf content; file names it in errors.
func ParseConfig(file string, data []byte) (*Config, error) {
	stmts, err := kaconf.Parse(file, data)
	if err != nil {
		return nil, err
	}
	return FromStmts(stmts)
}

// FromStmts interprets the virtual_server blocks of a parsed keepalived.conf.
func FromStmts(stmts []*kaconf.Stmt) (*Config, error) {
	r := &reader{cfg: &Config{}}
	seen := map[netip.AddrPort]string{}
	for _, s := range stmts {
		switch s.Keyword {
		case "virtual_server":
			vs, err := r.virtualServer(s)
			if err != nil {
				return nil, err
			}
			if prev, ok := seen[vs.VIP]; ok {
				return nil, errAt(s, "virtual_server %s already defined at %s", vs.VIP, prev)
			}
			seen[vs.VIP] = vs.Pos
			r.cfg.Services = append(r.cfg.Services, vs)
		case "virtual_server_group":
			return nil, errAt(s, "virtual_server_group is not supported by lbd")
		}
	}
	return r.cfg, nil
}

type reader struct{ cfg *Config }

func errAt(s *kaconf.Stmt, format string, a ...any) error {
	return fmt.Errorf("%s: %s", s.Pos(), fmt.Sprintf(format, a...))
}

func (r *reader) warn(s *kaconf.Stmt, format string, a ...any) {
	r.cfg.Warnings = append(r.cfg.Warnings, fmt.Sprintf("%s: %s", s.Pos(), fmt.Sprintf(format, a...)))
}

// checkDefaults are the settings a virtual server passes to its real
// servers and a real server to its checkers.
type checkDefaults struct {
	connectTimeout time.Duration
	retry          int
	retryDelay     time.Duration // 0: the checker kind's default
	delayLoop      time.Duration
	warmup         time.Duration
	warmupSet      bool
	alpha          bool
}

// inherited handles the keywords shared by virtual_server, real_server and
// checkers. It reports whether s was one of them.
func (r *reader) inherited(s *kaconf.Stmt, d *checkDefaults) (bool, error) {
	var err error
	switch s.Keyword {
	case "connect_timeout":
		d.connectTimeout, err = timerArg(s, false)
	case "retry", "nb_get_retry":
		d.retry, err = intArg(s, 0, 1<<30)
	case "delay_before_retry":
		d.retryDelay, err = timerArg(s, true)
	case "delay_loop":
		d.delayLoop, err = timerArg(s, false)
	case "warmup":
		d.warmup, err = timerArg(s, true)
		d.warmupSet = true
	case "alpha":
		d.alpha, err = boolArg(s)
	case "inhibit_on_failure":
		// Weight 0 instead of removal: for lbd both mean "no new connections,
		// established ones continue", so there is nothing to do.
		_, err = boolArg(s)
	default:
		return false, nil
	}
	return true, err
}

// ignored are keywords lbd accepts without effect (notifications, SNMP...).
var ignored = map[string]bool{
	"smtp_alert": true, "snmp_name": true, "ha_suspend": true, "omega": true,
	"notify_up": true, "notify_down": true, "quorum_up": true, "quorum_down": true,
	"hysteresis": true, "log_all_failures": true, "bind_if": true, "fwmark": true,
	"http_protocol": true, "fast_recovery": true, "sorry_server_inhibit": true,
	"ip_family": true, "ops": true, "flag-1": true, "flag-2": true, "flag-3": true,
	"uthreshold": true, "lthreshold": true, "sh-fallback": true,
}

func (r *reader) virtualServer(s *kaconf.Stmt) (*VirtualServer, error) {
	vs := &VirtualServer{Pos: s.Pos(), Quorum: defaultQuorum}
	if len(s.Args) > 0 && (s.Args[0] == "fwmark" || s.Args[0] == "group") {
		return nil, errAt(s, "virtual_server %s is not supported by lbd (only ADDR PORT)", s.Args[0])
	}
	if len(s.Args) != 2 {
		return nil, errAt(s, "virtual_server needs ADDR PORT (lbd does not support port-less persistent services)")
	}
	addr, err := addrPort(s, s.Args[0], s.Args[1])
	if err != nil {
		return nil, err
	}
	vs.VIP = addr
	if s.Block == nil {
		return nil, errAt(s, "virtual_server %s has no block", addr)
	}
	defaults := checkDefaults{connectTimeout: DefaultConnectTimeout, retry: DefaultRetry, delayLoop: DefaultDelayLoop}
	var realStmts []*kaconf.Stmt
	protocol := false
	for _, c := range s.Block {
		ok, err := r.inherited(c, &defaults)
		if err != nil {
			return nil, err
		}
		if ok {
			continue
		}
		switch c.Keyword {
		case "lb_algo", "lvs_sched":
			if err := oneArg(c); err != nil {
				return nil, err
			}
			switch a := Algo(c.Args[0]); a {
			case AlgoRR, AlgoWRR, AlgoSH:
				vs.Algo = a
			case "lc", "wlc", "sed", "nq", "lblc", "lblcr", "twos", "ovf":
				return nil, errAt(c, "%s %s is not supported by lbd: it needs the live connection count of every real server when each connection is scheduled, which nftables cannot compare; use rr, wrr or sh", c.Keyword, a)
			default:
				return nil, errAt(c, "%s %s is not supported by lbd (rr, wrr or sh)", c.Keyword, a)
			}
		case "lb_kind", "lvs_method":
			if err := lbKind(c); err != nil {
				return nil, err
			}
		case "protocol":
			if err := oneArg(c); err != nil {
				return nil, err
			}
			if !strings.EqualFold(c.Args[0], "TCP") {
				return nil, errAt(c, "protocol %s is not supported by lbd (TCP only)", c.Args[0])
			}
			protocol = true
		case "persistence_timeout":
			vs.Persistence = DefaultPersistence
			if len(c.Args) > 0 {
				n, err := intArg(c, 1, maxPersistenceTimeoutSec)
				if err != nil {
					return nil, err
				}
				vs.Persistence = time.Duration(n) * time.Second
			}
		case "sorry_server":
			if len(c.Args) < 1 || len(c.Args) > 2 {
				return nil, errAt(c, "sorry_server needs ADDR [PORT]")
			}
			port := s.Args[1]
			if len(c.Args) == 2 {
				port = c.Args[1]
			}
			if vs.Sorry, err = addrPort(c, c.Args[0], port); err != nil {
				return nil, err
			}
		case "sorry_server_lvs_method":
			if err := lbKind(c); err != nil {
				return nil, err
			}
		case "quorum":
			if vs.Quorum, err = intArg(c, 1, maxWeight); err != nil {
				return nil, err
			}
		case "real_server":
			realStmts = append(realStmts, c)
		case "virtualhost":
			// HTTP_GET default Host: applied below.
		case "persistence_granularity", "persistence_engine", "sh-port", "mh-port", "mh-fallback":
			return nil, errAt(c, "%s is not supported by lbd", c.Keyword)
		default:
			if ignored[c.Keyword] {
				r.warn(c, "%s has no effect in lbd", c.Keyword)
				continue
			}
			r.warn(c, "unknown keyword '%s' in virtual_server", c.Keyword)
		}
	}
	if vs.Algo == "" {
		return nil, errAt(s, "virtual_server %s has no lb_algo: keepalived's default wlc is not supported by lbd; set lb_algo rr, wrr or sh", addr)
	}
	if !protocol {
		return nil, errAt(s, "virtual_server %s has no protocol: keepalived then defaults to UDP, which lbd does not support; add 'protocol TCP'", addr)
	}
	vhost := lastArg(s.Block, "virtualhost")
	seenRS := map[netip.AddrPort]string{}
	for _, c := range realStmts {
		rs, err := r.realServer(c, vs, defaults, vhost)
		if err != nil {
			return nil, err
		}
		if prev, ok := seenRS[rs.Addr]; ok {
			return nil, errAt(c, "real_server %s already defined at %s", rs.Addr, prev)
		}
		seenRS[rs.Addr] = rs.Pos
		vs.Reals = append(vs.Reals, rs)
	}
	return vs, nil
}

func lbKind(c *kaconf.Stmt) error {
	if len(c.Args) < 1 {
		return errAt(c, "%s needs NAT", c.Keyword)
	}
	if !strings.EqualFold(c.Args[0], "NAT") {
		return errAt(c, "%s %s is not supported by lbd (NAT only: this kernel has no IPVS and lbd rewrites addresses with nftables)", c.Keyword, c.Args[0])
	}
	return nil
}

func (r *reader) realServer(s *kaconf.Stmt, vs *VirtualServer, d checkDefaults, vhost string) (*RealServer, error) {
	if len(s.Args) < 1 || len(s.Args) > 2 {
		return nil, errAt(s, "real_server needs ADDR [PORT]")
	}
	port := fmt.Sprint(vs.VIP.Port())
	if len(s.Args) == 2 {
		port = s.Args[1]
	}
	addr, err := addrPort(s, s.Args[0], port)
	if err != nil {
		return nil, err
	}
	rs := &RealServer{Pos: s.Pos(), Addr: addr, Weight: 1}
	var checks []*kaconf.Stmt
	for _, c := range s.Block {
		ok, err := r.inherited(c, &d)
		if err != nil {
			return nil, err
		}
		if ok {
			continue
		}
		switch c.Keyword {
		case "weight":
			if rs.Weight, err = intArg(c, 0, maxWeight); err != nil {
				return nil, err
			}
		case "lb_kind", "lvs_method":
			if err := lbKind(c); err != nil {
				return nil, err
			}
		case checkKindTCP, checkKindHTTP:
			checks = append(checks, c)
		case "SSL_GET", "SMTP_CHECK", "DNS_CHECK", "MISC_CHECK", "BFD_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK":
			return nil, errAt(c, "%s is not supported by lbd (TCP_CHECK and HTTP_GET only)", c.Keyword)
		case "virtualhost":
			vhost = argOr(c, vhost)
		default:
			if ignored[c.Keyword] {
				r.warn(c, "%s has no effect in lbd", c.Keyword)
				continue
			}
			r.warn(c, "unknown keyword '%s' in real_server", c.Keyword)
		}
	}
	rs.Alpha = d.alpha
	for _, c := range checks {
		ck, alpha, err := r.check(c, rs, d, vhost)
		if err != nil {
			return nil, err
		}
		rs.Checks = append(rs.Checks, ck)
		rs.Alpha = rs.Alpha || alpha
	}
	return rs, nil
}

// check reads one checker block; alpha is its (possibly inherited) alpha setting.
func (r *reader) check(s *kaconf.Stmt, rs *RealServer, d checkDefaults, vhost string) (ck *Check, alpha bool, err error) {
	ck = &Check{Pos: s.Pos(), Kind: s.Keyword, Target: rs.Addr}
	if s.Block == nil && len(s.Args) > 0 {
		return nil, false, errAt(s, "%s takes no arguments", s.Keyword)
	}
	connectIP := rs.Addr.Addr()
	connectPort := rs.Addr.Port()
	for _, c := range s.Block {
		ok, err := r.inherited(c, &d)
		if err != nil {
			return nil, false, err
		}
		if ok {
			continue
		}
		switch c.Keyword {
		case "connect_ip":
			if err := oneArg(c); err != nil {
				return nil, false, err
			}
			if connectIP, err = ipv4(c, c.Args[0]); err != nil {
				return nil, false, err
			}
		case "connect_port":
			n, err := intArg(c, 1, 65535)
			if err != nil {
				return nil, false, err
			}
			connectPort = uint16(n)
		case "bindto":
			if err := oneArg(c); err != nil {
				return nil, false, err
			}
			if ck.BindTo, err = ipv4(c, c.Args[0]); err != nil {
				return nil, false, err
			}
		case "bind_port":
			return nil, false, errAt(c, "bind_port is not supported by lbd")
		case "url":
			if s.Keyword != checkKindHTTP {
				return nil, false, errAt(c, "url is only valid in HTTP_GET")
			}
			u, err := r.url(c)
			if err != nil {
				return nil, false, err
			}
			ck.URLs = append(ck.URLs, u)
		case "virtualhost":
			vhost = argOr(c, vhost)
		default:
			if ignored[c.Keyword] {
				r.warn(c, "%s has no effect in lbd", c.Keyword)
				continue
			}
			r.warn(c, "unknown keyword '%s' in %s", c.Keyword, s.Keyword)
		}
	}
	ck.Target = netip.AddrPortFrom(connectIP, connectPort)
	ck.ConnectTimeout = d.connectTimeout
	ck.Retry = d.retry
	ck.DelayLoop = d.delayLoop
	ck.DelayBeforeRetry = d.retryDelay
	if ck.DelayBeforeRetry == 0 {
		ck.DelayBeforeRetry = DefaultTCPRetryDelay
		if ck.Kind == checkKindHTTP {
			ck.DelayBeforeRetry = DefaultHTTPRetryDelay
		}
	}
	ck.Warmup = d.delayLoop
	if d.warmupSet {
		ck.Warmup = d.warmup
	}
	ck.VirtualHost = vhost
	if ck.Kind == checkKindHTTP && len(ck.URLs) == 0 {
		return nil, false, errAt(s, "HTTP_GET needs at least one url block")
	}
	return ck, d.alpha, nil
}

func (r *reader) url(s *kaconf.Stmt) (URL, error) {
	u := URL{}
	for _, c := range s.Block {
		switch c.Keyword {
		case "path":
			if err := oneArg(c); err != nil {
				return u, err
			}
			if !strings.HasPrefix(c.Args[0], "/") {
				return u, errAt(c, "path %q must start with /", c.Args[0])
			}
			u.Path = c.Args[0]
		case "status_code":
			if len(c.Args) == 0 {
				return u, errAt(c, "status_code needs CODE or LO-HI")
			}
			for _, a := range c.Args {
				rg, err := statusRange(c, a)
				if err != nil {
					return u, err
				}
				u.StatusCodes = append(u.StatusCodes, rg)
			}
		case "digest":
			if err := oneArg(c); err != nil {
				return u, err
			}
			d := strings.ToLower(c.Args[0])
			if len(d) != 32 || strings.Trim(d, "0123456789abcdef") != "" {
				return u, errAt(c, "digest %q is not an MD5 hex string", c.Args[0])
			}
			u.Digest = d
		case "virtualhost":
			u.VirtualHost = argOr(c, "")
		case "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
			return u, errAt(c, "%s is not supported by lbd", c.Keyword)
		default:
			r.warn(c, "unknown keyword '%s' in url", c.Keyword)
		}
	}
	if u.Path == "" {
		return u, errAt(s, "url has no path")
	}
	if len(u.StatusCodes) == 0 {
		u.StatusCodes = []StatusRange{{defaultHTTPStatusLo, defaultHTTPStatusHi}}
	}
	return u, nil
}
