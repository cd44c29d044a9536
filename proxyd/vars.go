package proxyd

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"halab/proxyd/config"
)

// variable returns the value of an nginx variable and whether it was
// found; not-found variables log as "-" and expand to "".
func (x *exchange) variable(name string) (string, bool) {
	r := x.req
	switch name {
	case "remote_addr":
		return x.c.remoteAddr(), true
	case "binary_remote_addr":
		b := x.c.remote.Addr().AsSlice()
		return string(b), true
	case "remote_port":
		return strconv.Itoa(int(x.c.remote.Port())), true
	case "remote_user":
		return "", false
	case "server_addr":
		return x.c.local.Addr().String(), true
	case "server_port":
		return strconv.Itoa(int(x.c.local.Port())), true
	case "time_local":
		return timeLocal(x.start), true
	case "time_iso8601":
		return x.start.Format("2006-01-02T15:04:05-07:00"), true
	case "msec":
		now := time.Now()
		return strconv.FormatInt(now.Unix(), 10) + "." + pad3(now.Nanosecond()/1e6), true
	case "pid":
		return strconv.Itoa(os.Getpid()), true
	case "hostname":
		h, _ := os.Hostname()
		return h, true
	case "nginx_version":
		return nginxVersion, true
	case "connection":
		return strconv.FormatUint(x.c.id, 10), true
	case "connection_requests":
		return strconv.Itoa(x.c.requests), true
	case "scheme":
		return "http", true
	case "pipe":
		return ".", true
	case "status":
		return pad3(x.status), true
	case "body_bytes_sent":
		return strconv.FormatInt(x.bodySent, 10), true
	case "bytes_sent":
		return strconv.FormatInt(x.bytesSent, 10), true
	case "request_length":
		return strconv.FormatInt(x.reqLength, 10), true
	case "request_time":
		return msecs(time.Since(x.start)), true
	case "upstream_addr":
		return joinUp(x.upAddrs, func(s string) string { return s })
	case "upstream_status":
		return joinUp(x.upStatuses, pad3)
	case "upstream_response_time":
		return joinUp(x.upTimes, msecs)
	case "upstream_connect_time":
		return joinUp(x.upConnect, msecs)
	case "upstream_header_time":
		return joinUp(x.upHeader, msecs)
	case "proxy_host":
		if x.pp == nil {
			return "", false
		}
		return x.pp.ProxyHost, true
	case "proxy_port":
		if x.pp == nil {
			return "", false
		}
		return x.pp.ProxyPort, true
	case "server_name":
		if x.srv == nil {
			return "", true
		}
		return x.srv.FirstName(), true
	case "request_id":
		return requestID(), true
	}
	if r == nil {
		return "", false
	}
	switch name {
	case "host":
		if r.host != "" {
			return r.host, true
		}
		if x.srv != nil {
			return x.srv.FirstName(), true
		}
		return "", true
	case "request":
		return r.line, true
	case "request_method":
		return r.method, r.method != ""
	case "request_uri":
		return r.unparsedURI, r.unparsedURI != ""
	case "uri", "document_uri":
		return r.uri, r.uri != ""
	case "args", "query_string":
		return r.args, r.args != ""
	case "is_args":
		if r.args != "" {
			return "?", true
		}
		return "", true
	case "server_protocol":
		return r.proto, r.proto != ""
	case "content_length":
		return r.header("Content-Length")
	case "content_type":
		return r.header("Content-Type")
	case "http_x_forwarded_for":
		v := r.headerValues("X-Forwarded-For")
		return strings.Join(v, ", "), v != nil
	case "http_cookie":
		v := r.headerValues("Cookie")
		return strings.Join(v, "; "), v != nil
	case "proxy_add_x_forwarded_for":
		v := r.headerValues("X-Forwarded-For")
		addr := x.c.remoteAddr()
		if v == nil {
			return addr, true
		}
		return strings.Join(v, ", ") + ", " + addr, true
	}
	switch {
	case strings.HasPrefix(name, "http_"):
		return r.header(varHeaderName(name[5:]))
	case strings.HasPrefix(name, "sent_http_"):
		return x.sentHeader(varHeaderName(name[10:]))
	case strings.HasPrefix(name, "upstream_http_"):
		want := varHeaderName(name[14:])
		for _, h := range x.upHeaders {
			if strings.EqualFold(h.name, want) {
				return h.value, true
			}
		}
		return "", false
	case strings.HasPrefix(name, "cookie_"):
		return cookieValue(r.headerValues("Cookie"), name[7:])
	case strings.HasPrefix(name, "arg_"):
		return argValue(r.args, name[4:])
	case len(name) == 1 && name[0] >= '0' && name[0] <= '9':
		i := int(name[0] - '0')
		if i < len(x.caps) {
			return x.caps[i], true
		}
		return "", false
	}
	return "", false
}

// varHeaderName turns "x_real_ip" into "x-real-ip".
func varHeaderName(s string) string { return strings.ReplaceAll(s, "_", "-") }

func cookieValue(cookies []string, name string) (string, bool) {
	for _, c := range cookies {
		for _, part := range strings.Split(c, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(k, name) {
				return v, true
			}
		}
	}
	return "", false
}

func argValue(args, name string) (string, bool) {
	for _, part := range strings.Split(args, "&") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// joinUp renders an $upstream_* list as nginx does.
func joinUp[T any](v []T, format func(T) string) (string, bool) {
	switch len(v) {
	case 0:
		return "", false
	case 1:
		return format(v[0]), true
	}
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = format(e)
	}
	return strings.Join(parts, ", "), true
}

// threeDigits holds "000" to "999", so that status codes and milliseconds
// are rendered without allocating.
var threeDigits = func() (t [1000]string) {
	for i := range t {
		t[i] = string([]byte{'0' + byte(i/100), '0' + byte(i/10%10), '0' + byte(i%10)})
	}
	return t
}()

// pad3 renders n with at least three digits.
func pad3(n int) string {
	if n >= 0 && n < len(threeDigits) {
		return threeDigits[n]
	}
	s := strconv.Itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// msecs formats a duration as nginx does: seconds with milliseconds.
func msecs(d time.Duration) string {
	ms := max(d.Milliseconds(), 0)
	var b [24]byte
	out := strconv.AppendInt(b[:0], ms/1000, 10)
	out = append(out, '.')
	out = append(out, threeDigits[ms%1000]...)
	return string(out)
}

// expand evaluates a template; not-found variables expand to "".
func (x *exchange) expand(t config.Template) string {
	if len(t) == 1 {
		if t[0].Var == "" {
			return t[0].Lit
		}
		v, _ := x.variable(t[0].Var)
		return v
	}
	var b strings.Builder
	for _, s := range t {
		if s.Var == "" {
			b.WriteString(s.Lit)
			continue
		}
		v, _ := x.variable(s.Var)
		b.WriteString(v)
	}
	return b.String()
}

// templates caches parsed templates; config validated them already.
type templates struct {
	mu sync.RWMutex
	m  map[string]config.Template
}

func (t *templates) get(s string) config.Template {
	t.mu.RLock()
	tpl, ok := t.m[s]
	t.mu.RUnlock()
	if ok {
		return tpl
	}
	tpl, err := config.ParseTemplate(s)
	if err != nil {
		tpl = config.Template{{Lit: s}}
	}
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]config.Template{}
	}
	t.m[s] = tpl
	t.mu.Unlock()
	return tpl
}

// requestID is a random 32-hex-digit $request_id.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sentHeader is a header of the response head sent: its own headers, then
// Content-Type and Content-Length.
func (x *exchange) sentHeader(name string) (string, bool) {
	h := x.sent
	if h == nil {
		return "", false
	}
	for _, hd := range h.headers {
		if strings.EqualFold(hd.name, name) {
			return hd.value, true
		}
	}
	switch {
	case h.contentType != "" && strings.EqualFold(name, "Content-Type"):
		return h.contentType, true
	case h.contentLength >= 0 && strings.EqualFold(name, "Content-Length"):
		return strconv.FormatInt(h.contentLength, 10), true
	}
	return "", false
}
