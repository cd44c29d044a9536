package lbd

import (
	"strings"

	"halab/lbd/haproxycfg"
)

// persistence is what the request's cookie said about stickiness.
type persistence struct {
	srv   *Server // server named by the cookie, even if down
	found bool    // the request carried the cookie
}

// flag is the request cookie character of haproxy's log (N, I, D, V).
func (p persistence) flag(used *Server) byte {
	switch {
	case !p.found:
		return 'N'
	case p.srv == nil:
		return 'I'
	case !p.srv.Up():
		return 'D'
	case p.srv == used:
		return 'V'
	}
	return 'I'
}

// requestCookie finds the backend's persistence cookie in the request,
// returns the server it names and edits the Cookie header as HAProxy does:
// "prefix" strips "SRV~" from the value, "insert indirect" removes the
// cookie, "rewrite" and passive mode leave it.
func (b *Backend) requestCookie(req *Request) persistence {
	c := b.Cfg.Cookie
	if c == nil {
		return persistence{}
	}
	var p persistence
	for i := 0; i < len(req.Header); i++ {
		f := &req.Header[i]
		if !equalFoldASCII(f.Name, "Cookie") {
			continue
		}
		// the header's new value: the parts kept, ";"-separated, in a
		// stack buffer (a string is made only when it differs)
		var buf [256]byte
		out := buf[:0]
		kept := 0
		for rest, more := f.Value, true; more; {
			var part string
			part, rest, more = strings.Cut(rest, ";")
			keep, tail := true, ""
			trimmed := strings.TrimLeft(part, " \t")
			name, value, _ := strings.Cut(trimmed, "=")
			if !p.found && strings.TrimSpace(name) == c.Name {
				p.found = true
				key := value
				if c.Mode == haproxycfg.CookiePrefix {
					key = ""
					if k, v, ok := strings.Cut(value, "~"); ok {
						key = k
						// the part without "SRV~", as the server set it
						part, tail = part[:len(part)-len(trimmed)+len(name)+1], v
					}
				}
				p.srv = b.serverByCookie(key)
				keep = !(c.Mode == haproxycfg.CookieInsert && c.Indirect)
			}
			if !keep {
				continue
			}
			if kept > 0 {
				out = append(out, ';')
			} else {
				part = strings.TrimLeft(part, " ")
			}
			out = append(append(out, part...), tail...)
			kept++
		}
		if kept == 0 {
			req.Header = append(req.Header[:i], req.Header[i+1:]...)
			i--
			continue
		}
		if string(out) != f.Value {
			f.Value = string(out)
		}
	}
	return p
}

func (b *Backend) serverByCookie(key string) *Server {
	if key == "" {
		return nil
	}
	for _, s := range b.Servers {
		if s.Cfg.Cookie == key {
			return s
		}
	}
	return nil
}

// serverSetCookies edits the application's Set-Cookie headers for
// "prefix" (value becomes "SRV~value") and "rewrite" (value becomes the
// server's cookie), and drops them for "insert indirect" unless preserve.
// HAProxy does this before the http-response rules run.
func (b *Backend) serverSetCookies(h *Header, srv *Server) byte {
	c := b.Cfg.Cookie
	if c == nil || srv == nil || srv.Cfg.Cookie == "" {
		return 'N'
	}
	flag := byte('N')
	out := (*h)[:0]
	for _, f := range *h {
		if !equalFoldASCII(f.Name, "Set-Cookie") {
			out = append(out, f)
			continue
		}
		name, rest, _ := strings.Cut(f.Value, "=")
		if strings.TrimSpace(name) != c.Name {
			out = append(out, f)
			continue
		}
		value, attrs := rest, ""
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			value, attrs = rest[:i], rest[i:]
		}
		switch c.Mode {
		case haproxycfg.CookiePrefix:
			f.Value = name + "=" + srv.Cfg.Cookie + "~" + value + attrs
			flag = 'R'
		case haproxycfg.CookieRewrite:
			f.Value = name + "=" + srv.Cfg.Cookie + attrs
			flag = 'R'
		case haproxycfg.CookieInsert:
			if c.Indirect && !c.Preserve {
				flag = 'D'
				continue
			}
			flag = 'P'
		default:
			flag = 'P'
		}
		out = append(out, f)
	}
	*h = out
	return flag
}

// insertCookie adds the "insert" mode cookie after the http-response rules
// ran, unless the client already holds a valid one and indirect is set.
// With nocache, a cacheable response is marked "cache-control: private".
func (b *Backend) insertCookie(h *Header, srv *Server, pers persistence, status int) bool {
	c := b.Cfg.Cookie
	if c == nil || c.Mode != haproxycfg.CookieInsert || srv == nil || srv.Cfg.Cookie == "" {
		return false
	}
	if pers.srv == srv {
		// The client's cookie led to this server: HAProxy inserts none.
		return false
	}
	v := c.Name + "=" + srv.Cfg.Cookie + "; path=/"
	for _, d := range c.Domains {
		v += "; domain=" + d
	}
	if c.HTTPOnly {
		v += "; HttpOnly"
	}
	if c.Secure {
		v += "; Secure"
	}
	for _, a := range c.Attrs {
		v += "; " + a
	}
	h.Add("set-cookie", v)
	if c.NoCache && cacheable(*h, status) {
		h.Add("cache-control", "private")
	}
	return true
}

// cacheable approximates HAProxy's response cacheability check: a
// cacheable status with an explicit freshness (max-age, s-maxage or
// Expires) and no private/no-cache/no-store directive.
func cacheable(h Header, status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
	default:
		return false
	}
	fresh := false
	if _, ok := h.Get("Expires"); ok {
		fresh = true
	}
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "private" || d == "no-cache" || d == "no-store" || strings.HasPrefix(d, "private=") || strings.HasPrefix(d, "no-cache="):
				return false
			case strings.HasPrefix(d, "max-age=") || strings.HasPrefix(d, "s-maxage="):
				fresh = true
			}
		}
	}
	return fresh
}
