package config

import (
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"halab/proxyd/nginxconf"
)

func (b *builder) serverBlock(d *nginxconf.Directive, f *frame) error {
	srv := &Server{File: d.File, Line: d.Line}
	sb := &serverBuild{srv: srv, scope: &scope{}}
	b.servers = append(b.servers, sb)
	nf := &frame{ctx: ctxServer, scope: sb.scope, server: srv, seen: map[string]bool{}, parent: f}
	if err := b.block(d.Block, nf); err != nil {
		return err
	}
	if len(srv.Listens) == 0 {
		srv.Listens = []Listen{{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 80), File: d.File, Line: d.Line}}
	}
	if len(srv.Names) == 0 {
		srv.Names = []ServerName{{Kind: NameExact, Name: ""}}
	}
	return nil
}

// listen parses "listen ADDR[:PORT] | PORT [default_server] [options]".
func (b *builder) listen(d *nginxconf.Directive, f *frame) error {
	arg := d.Args[0]
	if strings.HasPrefix(arg, "unix:") {
		return d.Errorf(`unix domain sockets are not supported in "%s" of the "listen" directive`, arg)
	}
	var ap netip.AddrPort
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 1 || n > 65535 {
			return d.Errorf(`invalid port in "%s" of the "listen" directive`, arg)
		}
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(n))
	} else {
		host, port, _, err := splitHostPort(arg, 80)
		if err != nil {
			return d.Errorf(`invalid port in "%s" of the "listen" directive`, arg)
		}
		var addr netip.Addr
		if host == "*" {
			addr = netip.IPv4Unspecified()
		} else if a, err := netip.ParseAddr(host); err == nil {
			addr = a
		} else {
			addrs, err := resolveHostPort(b.opts.Resolve, host, port)
			if err != nil || len(addrs) == 0 {
				return d.Errorf(`host not found in "%s" of the "listen" directive`, arg)
			}
			addr = addrs[0].Addr()
		}
		ap = netip.AddrPortFrom(addr, uint16(port))
	}
	l := Listen{Addr: ap, File: d.File, Line: d.Line}
	for _, p := range d.Args[1:] {
		key, _, _ := strings.Cut(p, "=")
		switch key {
		case "default_server", "default":
			l.DefaultServer = true
		case "bind", "reuseport", "deferred", "backlog", "rcvbuf", "sndbuf", "so_keepalive", "ipv6only", "fastopen":
		case "ssl", "http2", "quic", "proxy_protocol":
			return d.Errorf(`the "%s" parameter of the "listen" directive is not supported by proxyd`, p)
		default:
			return d.Errorf(`invalid parameter "%s"`, p)
		}
	}
	for _, o := range f.server.Listens {
		if o.Addr == l.Addr {
			return d.Errorf(`a duplicate listen %s`, l.Addr)
		}
	}
	f.server.Listens = append(f.server.Listens, l)
	return nil
}

func (b *builder) serverName(d *nginxconf.Directive, f *frame) error {
	for _, raw := range d.Args {
		if strings.HasPrefix(raw, "~") {
			re, err := compileRegex(raw[1:], false)
			if err != nil {
				return d.Errorf("%s", err.Error())
			}
			f.server.Names = append(f.server.Names, ServerName{Kind: NameRegex, Regex: re})
			continue
		}
		name := strings.ToLower(raw)
		switch {
		case strings.HasPrefix(name, "*.") && !strings.Contains(name[1:], "*"):
			f.server.Names = append(f.server.Names, ServerName{Kind: NameWildcardFront, Name: name[1:]})
		case strings.HasSuffix(name, ".*") && !strings.Contains(name[:len(name)-1], "*"):
			f.server.Names = append(f.server.Names, ServerName{Kind: NameWildcardBack, Name: name[:len(name)-1]})
		case strings.HasPrefix(name, ".") && !strings.Contains(name, "*"):
			f.server.Names = append(f.server.Names,
				ServerName{Kind: NameExact, Name: name[1:]},
				ServerName{Kind: NameWildcardFront, Name: name})
		case strings.Contains(name, "*"):
			return d.Errorf(`invalid server name or wildcard "%s" on %s`, raw, f.server.listenString())
		default:
			f.server.Names = append(f.server.Names, ServerName{Kind: NameExact, Name: name})
		}
	}
	return nil
}

func (s *Server) listenString() string {
	if len(s.Listens) == 0 {
		return "0.0.0.0:80"
	}
	return s.Listens[0].Addr.String()
}

// compileRegex compiles an nginx (PCRE) regular expression with Go's
// RE2 engine; constructs RE2 lacks (backreferences, lookaround) fail.
func compileRegex(expr string, caseless bool) (*regexp.Regexp, error) {
	src := expr
	if caseless {
		src = "(?i)" + expr
	}
	re, err := regexp.Compile(src)
	if err != nil {
		msg := err.Error()
		if e, ok := err.(*syntax.Error); ok {
			msg = string(e.Code)
		}
		return nil, &regexError{expr: expr, msg: msg}
	}
	return re, nil
}

type regexError struct{ expr, msg string }

func (e *regexError) Error() string {
	return `pcre2_compile() failed: ` + e.msg + ` in "` + e.expr + `"`
}
