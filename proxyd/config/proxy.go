package config

import (
	"strconv"
	"strings"

	"halab/proxyd/nginxconf"
)

// proxyPass records a proxy_pass; the upstream is looked up once the whole
// configuration is read, since an upstream block may come later.
func (b *builder) proxyPass(d *nginxconf.Directive, f *frame) error {
	raw := d.Args[0]
	var rest string
	switch {
	case strings.HasPrefix(strings.ToLower(raw), "http://"):
		rest = raw[len("http://"):]
	case strings.HasPrefix(strings.ToLower(raw), "https://"):
		return d.Errorf(`https upstreams are not supported by proxyd in "%s"`, raw)
	default:
		if strings.Contains(raw, "$") {
			return d.Errorf(`variables in "proxy_pass" are not supported by proxyd`)
		}
		return d.Errorf(`invalid URL prefix`)
	}
	if strings.Contains(raw, "$") {
		return d.Errorf(`variables in "proxy_pass" are not supported by proxyd`)
	}
	if strings.HasPrefix(rest, "unix:") {
		return d.Errorf(`unix domain sockets are not supported by proxyd in "%s"`, raw)
	}
	pp := &ProxyPass{URL: raw}
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, pp.URI, pp.HasURI = rest[:i], rest[i:], true
	}
	if authority == "" {
		return d.Errorf(`no host in upstream "%s"`, rest)
	}
	if pp.HasURI && f.loc.IsRegex() {
		return d.Errorf(`"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block`)
	}
	_, port, hasPort, err := splitHostPort(authority, 80)
	if err != nil {
		return d.Errorf(`invalid port in upstream "%s"`, authority)
	}
	pp.ProxyHost = authority
	pp.ProxyPort = "80"
	if hasPort {
		pp.ProxyPort = strconv.Itoa(port)
	}
	f.loc.ProxyPass = pp
	b.passes = append(b.passes, &pendingPass{d: d, pp: pp, in: f.loc})
	return nil
}

func (b *builder) proxySetHeader(d *nginxconf.Directive, f *frame) error {
	if err := checkVars(d.Args[1]); err != nil {
		return d.Errorf("%s", err.Error())
	}
	f.scope.headers = append(f.scope.headers, Header{Name: d.Args[0], Value: d.Args[1]})
	f.scope.headersSet = true
	return nil
}

var nextUpstreamNames = map[string]NextUpstream{
	"error": NextError, "timeout": NextTimeout, "invalid_header": NextInvalidHeader,
	"http_500": NextHTTP500, "http_502": NextHTTP502, "http_503": NextHTTP503,
	"http_504": NextHTTP504, "http_403": NextHTTP403, "http_404": NextHTTP404,
	"http_429": NextHTTP429, "non_idempotent": NextNonIdempotent, "off": NextOff,
}

func (b *builder) nextUpstream(d *nginxconf.Directive, f *frame) error {
	var v NextUpstream
	for _, a := range d.Args {
		c, ok := nextUpstreamNames[a]
		if !ok {
			return d.Errorf(`invalid value "%s"`, a)
		}
		v |= c
	}
	if v.Has(NextOff) {
		v = NextOff
	}
	f.scope.nextUpstream = &v
	return nil
}

func (b *builder) nextTries(d *nginxconf.Directive, f *frame) error {
	n, err := strconv.Atoi(d.Args[0])
	if err != nil || n < 0 {
		return d.Errorf(`invalid number "%s"`, d.Args[0])
	}
	f.scope.nextTries = &n
	return nil
}

func (b *builder) httpVersion(d *nginxconf.Directive, f *frame) error {
	v := d.Args[0]
	if v != "1.0" && v != "1.1" {
		return d.Errorf(`invalid value "%s"`, v)
	}
	f.scope.httpVersion = &v
	return nil
}
