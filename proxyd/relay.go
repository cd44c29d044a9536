package proxyd

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"halab/proxyd/config"
)

// hiddenHeaders are upstream response headers nginx does not pass
// (proxy_hide_header defaults) or replaces with its own.
var hiddenHeaders = map[string]bool{
	"date": true, "server": true, "x-pad": true, "x-accel-expires": true,
	"x-accel-redirect": true, "x-accel-limit-rate": true, "x-accel-buffering": true,
	"x-accel-charset": true,
}

// hopHeaders are connection-level headers nginx never relays.
var hopHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "transfer-encoding": true, "upgrade": true,
	"content-length": true, "content-type": true,
}

// relay sends the upstream response to the client, streaming the body.
func (rt *runtime) relay(x *exchange, u *upConn, res *upResponse, pl *pool, pe *peer, sel selector, s *config.Settings) {
	freed := false
	free := func(failed bool) {
		if !freed {
			freed = true
			sel.free(pe, failed, time.Now())
		}
	}
	defer free(false)
	if res.http09 != nil {
		rt.relay09(x, u, res, s)
		return
	}
	h, upgrade := x.clientHead(res, s)
	if upgrade {
		x.writeHead(h)
		if err := x.c.bw.Flush(); err != nil {
			u.close()
			x.keepAlive = false
			return
		}
		x.hijacked = true
		free(false)
		n := tunnel(x.c, u, s.ReadTimeout)
		x.bodySent += n
		x.bytesSent += n
		return
	}
	if res.status == 101 {
		u.close()
		x.keepAlive = false
		return
	}
	bw := x.writeHead(h)
	inner := res.bodyReader(u.br, x.req.method)
	body := &deadlineReader{r: inner, c: u.nc, timeout: s.ReadTimeout}
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp
	complete := true
	for {
		n, err := body.Read(buf)
		// gather what already arrived into one write (one chunk), as
		// nginx sends what its buffer holds
		for err == nil && n < len(buf) && u.br.Buffered() > 0 {
			var m int
			m, err = body.Read(buf[n:])
			n += m
		}
		if n > 0 {
			if _, werr := bw.Write(buf[:n]); werr != nil {
				x.keepAlive = false
				complete = false
				break
			}
			if u.br.Buffered() == 0 {
				if werr := x.c.bw.Flush(); werr != nil {
					x.keepAlive = false
					complete = false
					break
				}
			}
		}
		if err != nil {
			truncated := !errors.Is(err, io.EOF)
			if lr, ok := inner.(*io.LimitedReader); ok && lr.N > 0 {
				truncated = true
			}
			if truncated {
				complete = false
				x.keepAlive = false
				msg := "upstream prematurely closed connection while reading upstream"
				if isTimeout(err) {
					msg = "upstream timed out (110: Connection timed out) while reading upstream"
				}
				rt.errLog.log("error", x, msg, x.upURL())
			}
			break
		}
	}
	if complete {
		_ = bw.finish()
	}
	_ = x.c.bw.Flush()
	reusable := complete && pl.idle != nil && !res.connClose && !res.eofBody && res.minor >= 1 &&
		s.HTTPVersion == "1.1" && !sentConnectionClose(s)
	if reusable {
		_ = u.nc.SetReadDeadline(time.Time{})
		pl.idle.put(u)
	} else {
		u.close()
	}
}

// clientHead is the head nginx sends the client for an upstream response:
// which headers pass, which are rewritten. upgrade tells a switch to a
// WebSocket (101 to a request that asked for it).
func (x *exchange) clientHead(res *upResponse, s *config.Settings) (h *respHead, upgrade bool) {
	h = &respHead{status: res.status, statusLine: res.statusLine, contentLength: res.contentLength, serverTokens: s.ServerTokens}
	upgrade = res.status == 101
	if upgrade {
		if _, ok := x.req.header("Upgrade"); !ok {
			upgrade = false
		}
	}
	for _, hd := range res.headers {
		// lower case in a buffer on the stack: string(name) in the
		// comparisons and map lookups below does not allocate
		var buf [64]byte
		name := asciiLower(buf[:0], hd.name)
		switch {
		case string(name) == "content-type":
			if h.contentType == "" {
				h.contentType = hd.value
			}
			continue
		case string(name) == "upgrade" && upgrade:
		case hopHeaders[string(name)]:
			continue
		case hiddenHeaders[string(name)] && !containsFold(s.PassHeaders, hd.name):
			continue
		case containsFold(s.HideHeaders, hd.name):
			continue
		case string(name) == "location" || string(name) == "refresh":
			v := x.redirectRewrite(hd.value)
			if string(name) == "location" && strings.HasPrefix(v, "/") {
				h.location = x.absoluteURL(v)
				continue
			}
			hd.value = v
		}
		h.headers = append(h.headers, hd)
	}
	if upgrade {
		h.contentLength = -1
	}
	return h, upgrade
}

// asciiLower appends s in ASCII lower case to b.
func asciiLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// isLowerASCII tells s has no upper-case ASCII letter.
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// sentConnectionClose reports whether the Connection header sent upstream
// asks to close (nginx's default "close" unless overridden).
func sentConnectionClose(s *config.Settings) bool {
	for _, h := range s.SetHeaders {
		if strings.EqualFold(h.Name, "Connection") {
			return strings.EqualFold(h.Value, "close")
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// redirectRewrite applies "proxy_redirect default": the proxy_pass URL is
// replaced by the location's name.
func (x *exchange) redirectRewrite(v string) string {
	if x.pp == nil || x.loc == nil || x.loc.IsRegex() {
		return v
	}
	from := x.pp.URL
	if !x.pp.HasURI {
		from += "/"
		if strings.HasPrefix(v, from) {
			return x.loc.Path + v[len(from):]
		}
		return v
	}
	if strings.HasPrefix(v, from) {
		return x.loc.Path + v[len(from):]
	}
	return v
}

// absoluteURL makes a path absolute as nginx does for Location headers
// (absolute_redirect on, server_name_in_redirect off, port_in_redirect on).
func (x *exchange) absoluteURL(path string) string {
	host := ""
	if x.req != nil {
		host = x.req.host
	}
	if host == "" {
		host = x.c.local.Addr().String()
	}
	port := ""
	if p := x.c.local.Port(); p != 80 {
		port = ":" + strconv.Itoa(int(p))
	}
	return "http://" + host + port + path
}

// relay09 passes a response without a valid status line through
// unchanged until the upstream closes, as nginx does with what it takes
// for HTTP/0.9. Like nginx it then keeps the client connection if the
// request allowed it, though the client cannot tell where the response
// ended.
func (rt *runtime) relay09(x *exchange, u *upConn, res *upResponse, s *config.Settings) {
	defer u.close()
	rt.errLog.log("error", x, "upstream sent no valid HTTP/1.0 header while reading response header from upstream", x.upURL())
	x.status = 9 // nginx logs "009" for an HTTP/0.9 response
	w := &bodyWriter{x: x, w: x.c.bw}
	if _, err := w.Write(res.http09); err != nil {
		return
	}
	_, _ = io.Copy(w, &deadlineReader{r: u.br, c: u.nc, timeout: s.ReadTimeout})
	_ = x.c.bw.Flush()
}
