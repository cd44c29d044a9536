// Package config turns a parsed nginx.conf tree (package nginxconf) into a
// validated model of the directives proxyd implements: parse -> model ->
// runtime. Errors name the file and line and use nginx's wording.
package config

import (
	"net/netip"
	"regexp"
	"time"
)

// Config is a whole nginx configuration.
type Config struct {
	File            string // main configuration file
	Prefix          string // nginx -p prefix, for relative paths
	Daemon          bool
	PID             string // absolute path of the pid file
	User            string
	WorkerProcesses string
	ErrorLog        string // path, or "stderr"
	ErrorLogLevel   string
	Events          Events
	HTTP            *HTTP // nil when there is no http block
}

// Events holds the events block.
type Events struct {
	WorkerConnections int
}

// HTTP holds the http block.
type HTTP struct {
	LogFormats map[string]*LogFormat
	Upstreams  map[string]*Upstream
	Servers    []*Server
}

// LogFormat is a named log_format.
type LogFormat struct {
	Name   string
	Escape string // "default", "json" or "none"
	Format string // the concatenated format strings, variables unexpanded
}

// AccessLog is one access_log target.
type AccessLog struct {
	Path   string
	Format *LogFormat
}

// Balance names an upstream selection policy.
type Balance string

// Upstream selection policies.
const (
	RoundRobin Balance = "round_robin"
	IPHash     Balance = "ip_hash"
	LeastConn  Balance = "least_conn"
	Hash       Balance = "hash"
)

// Upstream is an upstream block, or the implicit upstream of a proxy_pass
// to an address.
type Upstream struct {
	Name       string
	File       string
	Line       int
	Implicit   bool // made by proxy_pass to an address
	Servers    []*UpstreamServer
	Balance    Balance
	HashKey    string // for Hash
	Consistent bool   // hash ... consistent
	Keepalive  int    // idle connections cached per worker; 0 = none
}

// UpstreamServer is one "server" line of an upstream.
type UpstreamServer struct {
	Name        string // as written: host[:port]
	Addrs       []netip.AddrPort
	Weight      int
	MaxFails    int
	FailTimeout time.Duration
	Backup      bool
	Down        bool
}

// Listen is one listen directive.
type Listen struct {
	Addr          netip.AddrPort // unspecified address for "*:port"
	DefaultServer bool
	File          string
	Line          int
}

// NameKind tells how a server_name entry matches.
type NameKind int

// Server name kinds, in nginx's order of precedence.
const (
	NameExact NameKind = iota
	NameWildcardFront
	NameWildcardBack
	NameRegex
)

// ServerName is one server_name entry.
type ServerName struct {
	Kind  NameKind
	Name  string // lowercased; for wildcards the literal part without "*" (front keeps the leading ".")
	Regex *regexp.Regexp
}

// Server is one server block.
type Server struct {
	Listens   []Listen
	Names     []ServerName
	Locations []*Location // prefix, exact and regex, in config order
	Return    *Return     // a return at server level
	Settings  *Settings
	File      string
	Line      int
}

// FirstName returns the first server_name, the value of $server_name.
func (s *Server) FirstName() string {
	if len(s.Names) == 0 {
		return ""
	}
	n := s.Names[0]
	switch n.Kind {
	case NameWildcardFront:
		return "*" + n.Name
	case NameWildcardBack:
		return n.Name + "*"
	case NameRegex:
		return "~" + n.Regex.String()
	}
	return n.Name
}

// Modifier is a location's match type.
type Modifier string

// Location match types.
const (
	Prefix        Modifier = ""
	Exact         Modifier = "="
	NoRegex       Modifier = "^~"
	Regex         Modifier = "~"
	RegexCaseless Modifier = "~*"
)

// Location is a location block.
type Location struct {
	Modifier  Modifier
	Path      string
	Regex     *regexp.Regexp
	Locations []*Location // nested
	ProxyPass *ProxyPass
	Return    *Return
	Settings  *Settings
	File      string
	Line      int
}

// IsRegex reports whether the location is given by a regular expression.
func (l *Location) IsRegex() bool { return l.Modifier == Regex || l.Modifier == RegexCaseless }

// ProxyPass is a proxy_pass target.
type ProxyPass struct {
	URL       string    // as written
	Upstream  *Upstream // named or implicit
	ProxyHost string    // value of $proxy_host
	ProxyPort string    // value of $proxy_port
	URI       string    // the URI part; meaningful when HasURI
	HasURI    bool
}

// Return is a return directive.
type Return struct {
	Code int
	Text string // body text or redirect URL, may contain variables
}

// Header is one proxy_set_header.
type Header struct {
	Name  string
	Value string // may contain variables
}

// AccessRule is one allow or deny.
type AccessRule struct {
	Allow  bool
	Prefix netip.Prefix // zero means "all"
	All    bool
}

// NextUpstream is a set of proxy_next_upstream conditions.
type NextUpstream uint32

// proxy_next_upstream conditions.
const (
	NextError NextUpstream = 1 << iota
	NextTimeout
	NextInvalidHeader
	NextHTTP500
	NextHTTP502
	NextHTTP503
	NextHTTP504
	NextHTTP403
	NextHTTP404
	NextHTTP429
	NextNonIdempotent
	NextOff
)

// Has reports whether all of c are set.
func (n NextUpstream) Has(c NextUpstream) bool { return n&c == c }

// Settings are the directives nginx inherits from http to server to
// location, already merged for the level they belong to.
type Settings struct {
	SetHeaders          []Header
	ConnectTimeout      time.Duration
	ReadTimeout         time.Duration
	SendTimeout         time.Duration
	NextUpstream        NextUpstream
	NextUpstreamTries   int
	NextUpstreamTimeout time.Duration
	HTTPVersion         string // "1.0" or "1.1"
	Access              []AccessRule
	AccessLogs          []AccessLog // empty means off
	ServerTokens        bool
	KeepaliveTimeout    time.Duration
	KeepaliveRequests   int
	ClientMaxBodySize   int64
	ProxyBuffering      bool
	RequestBuffering    bool
	PassRequestHeaders  bool
	PassRequestBody     bool
	IgnoreClientAbort   bool
	Root                string   // absolute path
	Index               []string // index file names
	TryFiles            []string // try_files arguments, the last being a URI or =CODE
	DefaultType         string
	Types               map[string]string // lowercased extension -> MIME type
	HideHeaders         []string
	PassHeaders         []string
}
