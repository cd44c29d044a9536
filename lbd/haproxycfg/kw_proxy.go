package haproxycfg

import (
	"net/netip"
	"regexp"
	"strings"
)

// capOf tells which capability a keyword needs; keywords not listed work
// everywhere.
var capOf = map[string]Cap{
	"bind": CapFrontend, "default_backend": CapFrontend, "use_backend": CapFrontend,
	"server": CapBackend, "balance": CapBackend, "cookie": CapBackend,
	"retries": CapBackend, "http-check": CapBackend, "tcp-check": CapBackend,
	"http-reuse": CapBackend,
}

// validReuse are the http-reuse strategies.
var validReuse = map[string]bool{"never": true, "safe": true, "aggressive": true, "always": true}

// fatalCap lists keywords whose use in the wrong proxy kind is fatal, as in
// HAProxy; for the others it is a warning and the line is ignored.
var fatalCap = map[string]bool{"bind": true, "server": true}

// notInDefaults lists keywords a defaults section may not hold.
var notInDefaults = map[string]bool{
	"bind": true, "server": true, "acl": true, "use_backend": true,
	"http-request": true, "http-response": true,
}

func (p *parser) proxyLine(px *Proxy, l Line, isDefaults bool) {
	w := l.Words
	kw := w[0]
	if kw == "no" && len(w) > 1 && w[1] == "option" {
		p.option(px, l, true)
		return
	}
	if kw == "no" && len(w) > 1 && w[1] == "log" {
		px.Logs, px.LogGlobal = nil, false
		return
	}
	if isDefaults && notInDefaults[kw] {
		p.alert(l.Pos, "'%s' not allowed in 'defaults' section.", kw)
		return
	}
	if need, ok := capOf[kw]; ok && !isDefaults && px.Cap&need == 0 {
		has := "backend"
		if need == CapFrontend {
			has = "frontend"
		}
		if fatalCap[kw] {
			p.alerts = append(p.alerts, &Alert{Pos: l.Pos, Msg: "'" + kw + "' not allowed because " +
				px.Kind() + " '" + px.Name + "' has no " + has + " capability."})
		} else {
			p.warn(l.Pos, "'%s' ignored because %s '%s' has no %s capability.", kw, px.Kind(), px.Name, has)
		}
		return
	}
	switch kw {
	case "mode":
		if len(w) < 2 {
			p.alert(l.Pos, "'mode' expects one of 'tcp', 'http' or 'health'.")
			return
		}
		switch w[1] {
		case "http":
			px.Mode = ModeHTTP
		case "tcp":
			px.Mode = ModeTCP
		default:
			p.alert(l.Pos, "unknown proxy mode '%s'.", w[1])
		}
	case "bind":
		if len(w) < 2 {
			p.alert(l.Pos, "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
			return
		}
		p.bindAddrs(px, l.Pos, w[1])
		p.bindOptions(l, w[1], w[2:])
	case "default_backend":
		if len(w) < 2 {
			p.alert(l.Pos, "'%s' expects a backend name.", kw)
			return
		}
		px.DefaultBackend, px.DefaultPos = w[1], l.Pos
	case "use_backend":
		p.useBackend(px, l)
	case "acl":
		p.acl(px, l)
	case "balance":
		p.balance(px, l)
	case "server":
		p.server(px, l)
	case "cookie":
		p.cookie(px, l)
	case "option":
		p.option(px, l, false)
	case "retries":
		px.Retries = p.intArg(l, 1, 0)
	case "timeout":
		p.timeout(px, l)
	case "contimeout", "clitimeout", "srvtimeout":
		p.alert(l.Pos, "the '%s' directive is not supported anymore since HAProxy 2.1. Use 'timeout %s' instead.",
			kw, map[string]string{"contimeout": "connect", "clitimeout": "client", "srvtimeout": "server"}[kw])
	case "http-request", "http-response":
		p.httpRule(px, l)
	case "http-check":
		p.httpCheck(px, l)
	case "tcp-check":
		p.tcpCheck(px, l)
	case "stats":
		p.stats(px, l)
	case "log":
		switch {
		case len(w) > 1 && w[1] == "global":
			px.LogGlobal = true
		default:
			if t, ok := p.logTarget(l); ok {
				px.Logs = append(px.Logs, t)
			}
		}
	case "http-reuse":
		if len(w) != 2 || !validReuse[w[1]] {
			p.alert(l.Pos, "'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'.")
			return
		}
		px.HTTPReuse = w[1]
	case "maxconn", "fullconn", "description", "hash-type", "capture",
		"errorfile", "monitor-uri", "log-format", "unique-id-format", "unique-id-header",
		"default-server", "compression", "redirect", "tcp-request", "tcp-response",
		"email-alert", "id", "disabled", "enabled", "rate-limit", "backlog", "maxconn-rate":
		// Accepted and without effect in lbd (DIFFERENCES.md).
	default:
		p.alert(l.Pos, "unknown keyword '%s' in '%s' section", kw, sectionKind(px, isDefaults))
	}
}

func sectionKind(px *Proxy, isDefaults bool) string {
	if isDefaults {
		return "defaults"
	}
	return px.Kind()
}

func (p *parser) bindAddrs(px *Proxy, pos Pos, list string) {
	for _, a := range strings.Split(list, ",") {
		h, port, err := splitHostPort(a, true)
		if err != nil {
			p.alert(pos, "'bind' : %v", err)
			continue
		}
		px.Binds = append(px.Binds, Bind{Pos: pos, Addr: a, Host: h, Port: port})
	}
}

func (p *parser) balance(px *Proxy, l Line) {
	if len(l.Words) < 2 {
		p.alert(l.Pos, "'balance' requires an algorithm.")
		return
	}
	a := l.Words[1]
	if strings.HasPrefix(a, "random(") {
		a = "random" // the number of draws is not tunable in lbd
	}
	switch a {
	case "roundrobin", "static-rr", "leastconn", "source", "first", "random":
		px.Balance = Balance{Algo: a, Pos: l.Pos}
	default:
		p.alert(l.Pos, "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.")
	}
}

func (p *parser) timeout(px *Proxy, l Line) {
	if len(l.Words) < 2 {
		p.alert(l.Pos, "'timeout' expects 'client', 'http-keep-alive', 'http-request', 'server', 'connect', 'check', 'queue', 'tunnel' and 'tarpit' as arguments.")
		return
	}
	name := l.Words[1]
	d := p.timeArg(l, 2, "timeout "+name)
	t := &px.Timeouts
	switch name {
	case "connect":
		t.Connect = d
	case "client":
		t.Client = d
	case "server":
		t.Server = d
	case "check":
		t.Check = d
	case "http-request":
		t.HTTPRequest = d
	case "http-keep-alive":
		t.HTTPKeepAlive = d
	case "queue":
		t.Queue = d
	case "tunnel":
		t.Tunnel = d
	case "tarpit", "client-fin", "server-fin":
	default:
		p.alert(l.Pos, "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", name)
	}
}

func (p *parser) option(px *Proxy, l Line, negate bool) {
	w := l.Words
	if negate {
		w = w[1:]
	}
	if len(w) < 2 {
		p.alert(l.Pos, "'option' expects an option name.")
		return
	}
	set := !negate
	switch w[1] {
	case "redispatch":
		px.Redispatch = set
	case "httplog":
		px.HTTPLog = set
	case "tcplog":
		px.TCPLog = set
	case "dontlognull":
		px.DontLogNull = set
	case "http-server-close":
		px.HTTPServerClose = set
	case "http-keep-alive":
		px.HTTPKeepAlive = set
	case "tcpka":
		px.ClientTCPKA, px.ServerTCPKA = set, set
	case "clitcpka":
		px.ClientTCPKA = set
	case "srvtcpka":
		px.ServerTCPKA = set
	case "smart-accept":
		px.SmartAccept = &set
	case "tcp-check":
		px.TCPCheck = set
	case "httpchk":
		if !set {
			px.HTTPCheck = nil
			return
		}
		hc := &HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
		args := w[2:]
		switch len(args) {
		case 0:
		case 1:
			hc.URI = args[0]
		default:
			hc.Method, hc.URI = args[0], args[1]
			if len(args) > 2 {
				hc.Version = joinWords(args[2:])
				// Legacy trick: "HTTP/1.1\r\nHost:\ www" carries headers.
				if i := strings.Index(hc.Version, "\r\n"); i >= 0 {
					p.warn(l.Pos, "'option httpchk' : hiding headers or body at the end of the version string is deprecated. Please, consider to use 'http-check send' directive instead.")
					for _, h := range strings.Split(hc.Version[i+2:], "\r\n") {
						k, v, _ := strings.Cut(h, ":")
						if strings.EqualFold(strings.TrimSpace(k), "host") {
							hc.Host = strings.TrimSpace(v)
						}
					}
					hc.Version = hc.Version[:i]
				}
			}
		}
		if px.HTTPCheck != nil {
			hc.Expect = px.HTTPCheck.Expect
		}
		px.HTTPCheck = hc
	case "forwardfor":
		if !set {
			px.ForwardFor = nil
			return
		}
		ff := &ForwardFor{Header: "X-Forwarded-For"}
		for i := 2; i < len(w); i++ {
			switch w[i] {
			case "except":
				if i+1 >= len(w) {
					p.alert(l.Pos, "'option forwardfor' 'except' requires an IP mask.")
					return
				}
				pfx, err := parsePrefix(w[i+1])
				if err != nil {
					p.alert(l.Pos, "'option forwardfor' 'except' requires an IP mask.")
					return
				}
				ff.Except = &pfx
				i++
			case "header":
				if i+1 >= len(w) {
					p.alert(l.Pos, "'option forwardfor' 'header' requires a header name.")
					return
				}
				ff.Header = w[i+1]
				i++
			case "if-none":
				ff.IfNone = true
			default:
				p.alert(l.Pos, "'option forwardfor' only supports optional values 'except', 'header' and 'if-none'.")
				return
			}
		}
		px.ForwardFor = ff
	case "httpclose", "forceclose", "abortonclose", "log-health-checks", "http-buffer-request",
		"http-pretend-keepalive", "log-separate-errors", "logasap", "splice-auto", "splice-request",
		"splice-response", "allbackups", "persist", "prefer-last-server",
		"accept-invalid-http-request", "accept-invalid-http-response", "http-use-htx", "nolinger",
		"contstats", "socket-stats", "independent-streams", "checkcache", "originalto", "http-no-delay",
		"dontlog-normal", "httpslog", "http-ignore-probes", "http-restrict-req-hdr-names",
		"idle-close-on-response", "disable-h2-upgrade", "h1-case-adjust-bogus-client",
		"h1-case-adjust-bogus-server", "http-no-delay-conn", "log-health-checks-detailed":
		// Accepted without effect in lbd.
	default:
		p.alert(l.Pos, "unknown option '%s'.", w[1])
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return pfx.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (p *parser) cookie(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 2 {
		p.alert(l.Pos, "'cookie' expects <cookie_name> as argument.")
		return
	}
	c := &Cookie{Pos: l.Pos, Name: w[1]}
	modes := 0
	for i := 2; i < len(w); i++ {
		switch w[i] {
		case "insert":
			c.Mode = CookieInsert
			modes++
		case "prefix":
			c.Mode = CookiePrefix
			modes++
		case "rewrite":
			c.Mode = CookieRewrite
			modes++
		case "indirect":
			c.Indirect = true
		case "nocache":
			c.NoCache = true
		case "postonly":
			c.PostOnly = true
		case "preserve":
			c.Preserve = true
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		case "dynamic":
			c.Dynamic = true
		case "domain", "attr", "maxidle", "maxlife":
			if i+1 >= len(w) {
				p.alert(l.Pos, "'%s' expects a value.", w[i])
				return
			}
			switch w[i] {
			case "domain":
				c.Domains = append(c.Domains, w[i+1])
			case "attr":
				c.Attrs = append(c.Attrs, w[i+1])
			case "maxidle", "maxlife":
				d, err := parseTime(w[i+1])
				if err != nil {
					p.alert(l.Pos, "%v in argument to '%s'.", err, w[i])
					return
				}
				if w[i] == "maxidle" {
					c.MaxIdle = d
				} else {
					c.MaxLife = d
				}
			}
			i++
		default:
			p.alert(l.Pos, "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options.")
			return
		}
	}
	switch {
	case modes > 1:
		p.alert(l.Pos, "'cookie' supports only one of 'rewrite', 'insert' or 'prefix' options.")
		return
	case c.Mode == CookiePrefix && c.Indirect:
		p.alert(l.Pos, "'cookie' 'prefix' and 'indirect' options are incompatible.")
		return
	case c.PostOnly && c.Mode != CookieInsert:
		p.alert(l.Pos, "'cookie' 'postonly' option requires 'insert' option.")
		return
	}
	px.Cookie = c
}

func (p *parser) httpCheck(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 2 {
		p.alert(l.Pos, "'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var', 'unset-var'.")
		return
	}
	switch w[1] {
	case "expect":
		e := &Expect{Pos: l.Pos}
		i := 2
		if i < len(w) && w[i] == "!" {
			e.Negate = true
			i++
		}
		if i+1 >= len(w) {
			p.alert(l.Pos, "'http-check expect' expects a match method and a pattern.")
			return
		}
		e.Kind, e.Pattern = w[i], w[i+1]
		switch e.Kind {
		case "status", "string":
		case "rstatus", "rstring":
			re, err := regexp.Compile(e.Pattern)
			if err != nil {
				p.alert(l.Pos, "'http-check expect' : regex '%s' is invalid (error=%v).", e.Pattern, err)
				return
			}
			e.Regexp = re
		default:
			p.alert(l.Pos, "'http-check expect' : unknown match method '%s' (lbd supports status, rstatus, string, rstring).", e.Kind)
			return
		}
		if px.HTTPCheck == nil {
			px.HTTPCheck = &HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
			px.HTTPCheck.Expect = e
			px.HTTPCheck.Method = "" // marks "expect without option httpchk"
			return
		}
		px.HTTPCheck.Expect = e
	case "send":
		if px.HTTPCheck == nil {
			px.HTTPCheck = &HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
		}
		for i := 2; i+1 < len(w); i += 2 {
			switch w[i] {
			case "meth":
				px.HTTPCheck.Method = w[i+1]
			case "uri":
				px.HTTPCheck.URI = w[i+1]
			case "ver":
				px.HTTPCheck.Version = w[i+1]
			case "hdr":
				if i+2 < len(w) && strings.EqualFold(w[i+1], "host") {
					px.HTTPCheck.Host = w[i+2]
				}
				i++
			}
		}
	case "disable-on-404", "send-state", "comment", "connect":
	default:
		p.alert(l.Pos, "'http-check' : unknown keyword '%s'.", w[1])
	}
}

func (p *parser) tcpCheck(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 2 {
		p.alert(l.Pos, "'tcp-check' expects an action.")
		return
	}
	switch w[1] {
	case "connect", "comment":
		// A plain connect is what lbd's tcp-check does.
	default:
		p.alert(l.Pos, "'tcp-check %s' is not supported by lbd (only 'connect').", w[1])
	}
}

func (p *parser) stats(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 2 {
		p.alert(l.Pos, "'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'show-node', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', or 'uri' as argument.")
		return
	}
	if px.Stats == nil {
		px.Stats = &Stats{URI: "/haproxy?stats", Realm: "HAProxy Statistics"}
	}
	st := px.Stats
	switch w[1] {
	case "enable":
		st.Enabled = true
	case "uri":
		if len(w) < 3 {
			p.alert(l.Pos, "'uri' needs an URI prefix.")
			return
		}
		st.URI, st.Enabled = w[2], true
	case "realm":
		if len(w) < 3 {
			p.alert(l.Pos, "'realm' needs an realm name.")
			return
		}
		st.Realm, st.Enabled = w[2], true
	case "auth":
		if len(w) < 3 || !strings.Contains(w[2], ":") {
			p.alert(l.Pos, "'auth' needs a user:password account.")
			return
		}
		st.Auth, st.Enabled = append(st.Auth, w[2]), true
	case "refresh":
		if len(w) < 3 {
			p.alert(l.Pos, "'refresh' needs a positive interval in seconds.")
			return
		}
		d, err := parseTime(w[2])
		if err != nil {
			p.alert(l.Pos, "'refresh' needs a positive interval in seconds.")
			return
		}
		st.Refresh, st.Enabled = d, true
	case "hide-version", "show-legends", "show-node", "show-desc", "admin", "scope", "http-request", "bind-process", "show-modules":
		st.Enabled = true
	default:
		p.alert(l.Pos, "'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'show-node', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', or 'uri' as argument.")
	}
}

// bindOptionArgs are "bind" options lbd accepts and ignores, with the
// number of values each takes.
var bindOptionArgs = map[string]int{
	"name": 1, "id": 1, "maxconn": 1, "backlog": 1, "interface": 1, "mss": 1, "process": 1,
	"thread": 1, "nice": 1, "tcp-ut": 1, "level": 1, "mode": 1, "user": 1, "group": 1,
	"uid": 1, "gid": 1, "namespace": 1, "severity-output": 1,
	"transparent": 0, "v4v6": 0, "v6only": 0, "defer-accept": 0, "tfo": 0, "expose-fd": 1,
}

// bindTLSOptions need TLS or the PROXY protocol, which lbd lacks.
var bindTLSOptions = map[string]bool{
	"ssl": true, "crt": true, "crt-list": true, "ca-file": true, "accept-proxy": true,
	"alpn": true, "npn": true, "ciphers": true, "ssl-min-ver": true, "ssl-max-ver": true,
	"verify": true, "strict-sni": true, "quic-cc-algo": true, "proto": true,
}

func (p *parser) bindOptions(l Line, addr string, opts []string) {
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		if bindTLSOptions[o] {
			p.alert(l.Pos, "'bind %s' : '%s' is not supported by lbd (no TLS, no PROXY protocol).", addr, o)
			return
		}
		n, ok := bindOptionArgs[o]
		if !ok {
			p.alert(l.Pos, "'bind %s' : unknown keyword '%s'.", addr, o)
			return
		}
		if i+n >= len(opts) && n > 0 {
			p.alert(l.Pos, "'bind %s' : missing value for '%s'.", addr, o)
			return
		}
		i += n
	}
}
