package haproxycfg

import (
	"net/netip"
	"regexp"
	"time"
)

// Config is a whole, validated haproxy configuration.
type Config struct {
	Global   Global
	Proxies  []*Proxy // frontends, backends and listens in file order
	Warnings []Warning
}

// Proxy returns the proxy named name with capability c, or nil.
func (c *Config) Proxy(name string, cap Cap) *Proxy {
	for _, p := range c.Proxies {
		if p.Name == name && p.Cap&cap != 0 {
			return p
		}
	}
	return nil
}

// Global holds the "global" section settings lbd uses; the others are
// accepted and ignored.
type Global struct {
	Pos      Pos
	PIDFile  string
	Daemon   bool
	MaxConn  int
	NbThread int
	Stats    []string // "stats socket ..." lines, accepted, not served
	Logs     []LogTarget
	LogTag   string
}

// LogTarget is a "log" line: where traffic logs go.
type LogTarget struct {
	Pos      Pos
	Addr     string // "host:port" (UDP syslog), "stdout" or "stderr"
	Facility int    // syslog facility number
	Level    int    // highest severity sent (7 = debug)
	Raw      bool   // "format raw": the message alone
}

// Cap is a proxy capability.
type Cap int

// Capabilities: a listen section has both.
const (
	CapFrontend Cap = 1 << iota
	CapBackend
	CapListen = CapFrontend | CapBackend
)

// Mode is the proxy mode.
type Mode int

// Proxy modes.
const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Proxy is a frontend, backend or listen section, with the settings it
// inherited from the defaults section above it.
type Proxy struct {
	Cap  Cap
	Name string
	Pos  Pos
	Mode Mode

	// Frontend side.
	Binds          []Bind
	ACLs           []*ACL
	DefaultBackend string
	DefaultPos     Pos
	UseBackends    []UseBackend
	Services       []UseService
	ForwardFor     *ForwardFor
	Stats          *Stats
	HTTPRequest    []*HTTPRule

	// Backend side.
	Balance    Balance
	Servers    []*Server
	Cookie     *Cookie
	Redispatch bool
	Retries    int
	// HTTPReuse is the http-reuse strategy for idle server connections:
	// never, safe (the default), aggressive or always.
	HTTPReuse    string
	TCPCheck     bool
	HTTPCheck    *HTTPCheck
	HTTPResponse []*HTTPRule

	Timeouts Timeouts

	// Accepted options with no behaviour of their own in lbd.
	HTTPLog, DontLogNull, HTTPServerClose, HTTPKeepAlive, TCPLog bool

	// ClientTCPKA and ServerTCPKA are "option clitcpka" and "option
	// srvtcpka" ("option tcpka" sets both): TCP keep-alive probes on that
	// side's connections. Off, as in HAProxy, by default.
	ClientTCPKA, ServerTCPKA bool

	// SmartAccept is "option smart-accept" (true) or "no option
	// smart-accept" (false); nil leaves HAProxy's default (SmartAccepts).
	SmartAccept *bool

	// Logs are the proxy's log targets ("log global" copies the global ones).
	Logs      []LogTarget
	LogGlobal bool
}

// SmartAccepts reports whether the frontend's listening sockets delay the
// acknowledgement of a request so that it leaves with the response (no
// TCP quick ACK): on in HTTP mode unless "no option smart-accept" says
// otherwise, as in HAProxy.
func (p *Proxy) SmartAccepts() bool {
	if p.SmartAccept != nil {
		return *p.SmartAccept
	}
	return p.Mode == ModeHTTP
}

// Kind names the proxy capability as HAProxy prints it.
func (p *Proxy) Kind() string {
	switch p.Cap {
	case CapFrontend:
		return "frontend"
	case CapBackend:
		return "backend"
	default:
		return "listen"
	}
}

// Bind is a listening address.
type Bind struct {
	Pos  Pos
	Addr string // host:port as written, host may be "*" or empty
	Host string // "" means all addresses
	Port int
}

// ACL is a named (or anonymous) access control list.
type ACL struct {
	Pos      Pos
	Name     string
	Fetch    string // hdr, path, src, ...
	FetchArg string // header name for hdr()
	Match    string // str, beg, end, sub, reg, dom, dir, found, ip, int
	NoCase   bool
	Patterns []string
	Regexps  []*regexp.Regexp
	Nets     []netip.Prefix
	Or       []*ACL // further declarations sharing this name, ORed
}

// Term is one ACL reference in a condition, possibly negated.
type Term struct {
	Neg bool
	ACL *ACL
}

// Cond is an "if"/"unless" condition: a disjunction of conjunctions.
type Cond struct {
	Unless bool
	Or     [][]Term
}

// UseBackend is a "use_backend NAME if|unless COND" rule.
type UseBackend struct {
	Pos     Pos
	Backend string
	Cond    *Cond
}

// UseService is "http-request use-service NAME [COND]".
type UseService struct {
	Pos     Pos
	Service string // "prometheus-exporter"
	Cond    *Cond
}

// ForwardFor is "option forwardfor [except NET] [header NAME] [if-none]".
type ForwardFor struct {
	Except *netip.Prefix
	Header string
	IfNone bool
}

// Stats is the HAProxy statistics page settings of a proxy.
type Stats struct {
	Enabled bool
	URI     string
	Realm   string
	Auth    []string // user:password
	Refresh time.Duration
}

// Balance is the load balancing algorithm.
type Balance struct {
	Algo string // roundrobin, static-rr, leastconn, source, first
	Pos  Pos
}

// Server is one "server" line.
type Server struct {
	Pos       Pos
	Name      string
	Addr      string // host:port as written (port may be empty)
	Host      string
	IP        string // Host resolved when the configuration was read
	Port      int
	Check     bool
	CheckPort int
	Inter     time.Duration
	FastInter time.Duration
	DownInter time.Duration
	Rise      int
	Fall      int
	Weight    int
	Cookie    string
	Backup    bool
	Disabled  bool
	MaxConn   int
	// idle connection pool: pool-max-conn (-1: no bound), pool-low-conn,
	// pool-purge-delay (0: no idle connection kept)
	PoolMaxConn    int
	PoolLowConn    int
	PoolPurgeDelay time.Duration
}

// CookieMode is how the persistence cookie is handled.
type CookieMode int

// Cookie modes.
const (
	CookieNone    CookieMode = iota // passive: only read the cookie
	CookieInsert                    // insert a cookie of our own
	CookiePrefix                    // prefix the application cookie
	CookieRewrite                   // rewrite the application cookie value
)

// Cookie is the "cookie" keyword of a backend.
type Cookie struct {
	Pos      Pos
	Name     string
	Mode     CookieMode
	Indirect bool
	NoCache  bool
	PostOnly bool
	Preserve bool
	HTTPOnly bool
	Secure   bool
	Domains  []string
	MaxIdle  time.Duration
	MaxLife  time.Duration
	Dynamic  bool
	Attrs    []string
}

// HTTPCheck is "option httpchk" plus "http-check expect".
type HTTPCheck struct {
	Method  string
	URI     string
	Version string
	Host    string // from a "Host:" header in the version string
	Expect  *Expect
}

// Expect is an "http-check expect" rule.
type Expect struct {
	Pos     Pos
	Kind    string // status, rstatus, string, rstring
	Negate  bool
	Pattern string
	Regexp  *regexp.Regexp
}

// Timeouts in effect for a proxy; zero means unset.
type Timeouts struct {
	Connect, Client, Server, Check, HTTPRequest, HTTPKeepAlive, Queue, Tunnel time.Duration
}

// HTTPRule is an http-request or http-response header rule.
type HTTPRule struct {
	Pos     Pos
	Action  string // set-header, add-header, del-header, replace-header, replace-value, use-service, deny, allow
	Name    string
	Value   string // format string for set/add, replacement for replace-*
	Regexp  *regexp.Regexp
	Service string
	Status  int
	Cond    *Cond
}
