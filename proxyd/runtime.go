package proxyd

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"halab/proxyd/config"
)

// runtime is one loaded configuration ready to serve: virtual hosts per
// listen address, upstream pools with their health state, open logs.
// A reload builds a new runtime; the old one drains.
type runtime struct {
	cfg      *config.Config
	vhosts   map[netip.AddrPort]*vhosts
	pools    map[*config.Upstream]*pool
	logs     logFiles
	tpls     templates
	errLog   *errorLog
	retiring atomic.Bool
	// stopping: a graceful stop, not a reload; connections that have
	// not sent a request yet close too
	stopping atomic.Bool
	// conns counts connections accepted under this runtime, plus one held
	// until the runtime is retired; resources are released at zero.
	conns atomic.Int64
}

// newRuntime turns a validated configuration into a runtime, opening its
// log files.
func newRuntime(cfg *config.Config, errLog *errorLog) (*runtime, error) {
	rt := &runtime{cfg: cfg, pools: map[*config.Upstream]*pool{}, errLog: errLog}
	rt.conns.Store(1)
	if cfg.HTTP == nil {
		rt.vhosts = map[netip.AddrPort]*vhosts{}
		return rt, nil
	}
	rt.vhosts = buildVhosts(cfg.HTTP.Servers)
	var walk func(locs []*config.Location)
	walk = func(locs []*config.Location) {
		for _, l := range locs {
			if l.ProxyPass != nil && rt.pools[l.ProxyPass.Upstream] == nil {
				rt.pools[l.ProxyPass.Upstream] = newPool(l.ProxyPass.Upstream)
			}
			walk(l.Locations)
		}
	}
	for _, s := range cfg.HTTP.Servers {
		walk(s.Locations)
	}
	if err := openAccessLogs(cfg.HTTP, &rt.logs); err != nil {
		rt.logs.close()
		return nil, err
	}
	return rt, nil
}

// listenAddrs returns the addresses to bind: per port, only the wildcard
// address when one is configured, as nginx binds.
func (rt *runtime) listenAddrs() []netip.AddrPort {
	type key struct {
		v4   bool
		port uint16
	}
	wild := map[key]bool{}
	for a := range rt.vhosts {
		if a.Addr().IsUnspecified() {
			wild[key{a.Addr().Is4(), a.Port()}] = true
		}
	}
	var out []netip.AddrPort
	for a := range rt.vhosts {
		if !a.Addr().IsUnspecified() && wild[key{a.Addr().Is4(), a.Port()}] {
			continue
		}
		out = append(out, a)
	}
	return out
}

// vhostsFor picks the servers for a connection by its local address: the
// exact address if some server listens on it, else the wildcard.
func (rt *runtime) vhostsFor(local netip.AddrPort) *vhosts {
	if v, ok := rt.vhosts[local]; ok {
		return v
	}
	if local.Addr().Is4() {
		return rt.vhosts[netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())]
	}
	return rt.vhosts[netip.AddrPortFrom(netip.IPv6Unspecified(), local.Port())]
}

func (rt *runtime) draining() bool { return rt.retiring.Load() }

// closesWaiting tells whether a connection waiting for a request closes
// now: a kept-alive one (served requests) when the runtime drains, a new
// one only at a stop. After a reload nginx's old workers still serve the
// first request of a connection they accepted.
func (rt *runtime) closesWaiting(served int) bool {
	return rt.draining() && (served > 0 || rt.stopping.Load())
}

// retire stops the runtime taking new requests on kept-alive connections
// and releases its resources once connections are done.
func (rt *runtime) retire() { rt.retiring.Store(true) }

// connDone drops one reference; the last one releases the runtime.
func (rt *runtime) connDone() {
	if rt.conns.Add(-1) == 0 {
		rt.close()
	}
}

func (rt *runtime) close() {
	rt.logs.close()
	for _, p := range rt.pools {
		if p.idle != nil {
			p.idle.closeAll()
		}
	}
}

// reject answers a request that failed to parse and logs it.
func (rt *runtime) reject(x *exchange, he *httpError) {
	x.keepAlive = false
	x.bodyRead = true // the connection closes: no body to read or discard
	status := he.status
	tokens := true
	settings := (*config.Settings)(nil)
	if v := rt.vhostsFor(x.c.local); v != nil {
		x.srv = v.def
		settings = v.def.Settings
		tokens = settings.ServerTokens
	}
	rt.errLog.log("info", x, he.reason+" while reading client request line", "")
	x.sendSpecial(status, "", tokens)
	if settings != nil {
		rt.writeAccessLog(x, settings)
	}
}

// handle serves one parsed request: server by Host, server-level return,
// location, location return, allow/deny, then proxy_pass.
func (rt *runtime) handle(ctx context.Context, x *exchange) {
	r := x.req
	v := rt.vhostsFor(x.c.local)
	if v == nil {
		x.keepAlive = false
		return
	}
	x.enterServer(v.find(r.host))
	defer rt.finishExchange(x)
	if srv := x.srv; srv.Return != nil {
		rt.doReturn(x, srv.Return, srv.Settings)
		return
	}
	rt.route(ctx, x)
}

// enterServer starts a request in the server chosen by its Host.
func (x *exchange) enterServer(srv *config.Server, caps []string) {
	x.srv, x.caps = srv, caps
	s := srv.Settings
	x.settings = s
	x.keepaliveTimeout = s.KeepaliveTimeout
	x.limitKeepalive(s)
}

// enterLocation goes on in the location found for $uri (nil: none, the
// server's settings stay in force).
func (x *exchange) enterLocation(loc *config.Location, caps []string) {
	x.settings = x.srv.Settings
	if caps != nil {
		x.caps = caps
	}
	x.loc = loc
	if loc != nil {
		s := loc.Settings
		x.settings = s
		x.keepaliveTimeout = s.KeepaliveTimeout
		x.limitKeepalive(s)
	}
}

// finishExchange ends a request once its response is out: an unread body
// is discarded (or the connection will close), the access log written.
func (rt *runtime) finishExchange(x *exchange) {
	if !x.bodyRead && !x.hijacked {
		if !x.discardBody() {
			x.keepAlive = false
		}
	}
	x.reqLength += x.req.headerLength
	rt.writeAccessLog(x, x.settings)
}

// route finds the location for the request's $uri and runs it; internal
// redirects (index files, try_files) come back here. x.settings follows
// the settings in force, for the access log.
func (rt *runtime) route(ctx context.Context, x *exchange) {
	r, srv := x.req, x.srv
	loc, lcaps, rc := findLocation(srv.Locations, r.uri, nil)
	x.enterLocation(loc, lcaps)
	s := x.settings
	if loc != nil {
		if rc == locRedirect {
			target := r.uri + "/"
			if r.args != "" {
				target += "?" + r.args
			}
			x.sendSpecial(301, x.absoluteURL(target), s.ServerTokens)
			return
		}
		if loc.Return != nil {
			rt.doReturn(x, loc.Return, s)
			return
		}
	}
	if !allowed(s.Access, x.c.remote.Addr()) {
		rt.errLog.log("error", x, "access forbidden by rule", "")
		x.sendSpecial(403, "", s.ServerTokens)
		return
	}
	if s.ClientMaxBodySize > 0 && r.contentLen > s.ClientMaxBodySize {
		rt.errLog.log("error", x, fmt.Sprintf("client intended to send too large body: %d bytes", r.contentLen), "")
		x.keepAlive = false
		x.continued = true // nginx marks Expect as answered: no 100 Continue
		x.sendSpecial(413, "", s.ServerTokens)
		return
	}
	if loc != nil && loc.ProxyPass != nil {
		rt.proxy(ctx, x, loc)
		return
	}
	rt.static(ctx, x, s)
}

// internalRedirect restarts location selection with a new URI (and
// arguments, if it has any), as ngx_http_internal_redirect does.
func (rt *runtime) internalRedirect(ctx context.Context, x *exchange, uri string) {
	r := x.req
	x.redirects++
	if x.redirects > maxURIChanges {
		rt.errLog.log("error", x, fmt.Sprintf(`rewrite or internal redirection cycle while internally redirecting to "%s"`, uri), "")
		x.sendSpecial(500, "", x.srv.Settings.ServerTokens)
		return
	}
	if p, a, ok := strings.Cut(uri, "?"); ok {
		uri, r.args = p, a
	}
	r.uri = uri
	r.redirected = true
	rt.route(ctx, x)
}

// doReturn answers as the return directive does.
func (rt *runtime) doReturn(x *exchange, ret *config.Return, s *config.Settings) {
	text := x.expand(rt.tpls.get(ret.Text))
	if ret.Code < 400 || ret.Text != "" {
		// ngx_http_send_response discards the body first (answering
		// Expect), even for the redirects it then hands on
		x.discardBeforeResponse()
	}
	switch {
	case ret.Code == 444:
		x.status = 444
		x.keepAlive = false
	case ret.Code == 301 || ret.Code == 302 || ret.Code == 303 || ret.Code == 307 || ret.Code == 308:
		if len(text) > 0 && text[0] == '/' {
			x.sendSpecial(ret.Code, x.absoluteURL(text), s.ServerTokens)
			return
		}
		x.sendSpecialHeaders(ret.Code, []header{{"Location", text}}, s.ServerTokens)
	case ret.Text != "":
		x.sendText(ret.Code, x.contentType(s), text, s.ServerTokens)
	default:
		if errorPage(ret.Code, s.ServerTokens) != nil {
			x.sendSpecial(ret.Code, "", s.ServerTokens)
			return
		}
		x.sendText(ret.Code, x.contentType(s), "", s.ServerTokens)
	}
}

// contentType picks the MIME type nginx gives its own responses: by the
// extension of $uri in the types map, else default_type
// (ngx_http_set_content_type).
func (x *exchange) contentType(s *config.Settings) string {
	uri := x.req.uri
	for i := len(uri) - 1; i > 1; i-- {
		if uri[i] == '.' && uri[i-1] != '/' {
			if t, ok := s.Types[strings.ToLower(uri[i+1:])]; ok {
				return t
			}
			break
		}
		if uri[i] == '/' {
			break
		}
	}
	return s.DefaultType
}

// limitKeepalive applies keepalive_requests and keepalive_timeout 0: the
// response that reaches the limit says "Connection: close".
func (x *exchange) limitKeepalive(s *config.Settings) {
	if s.KeepaliveTimeout <= 0 || x.c.requests >= s.KeepaliveRequests {
		x.keepAlive = false
	}
}
