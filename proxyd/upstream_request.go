package proxyd

import (
	"strconv"
	"strings"

	"halab/proxyd/config"
)

// upstreamURI is the URI nginx sends upstream. Without a URI part in
// proxy_pass the client's URI goes unchanged; with one, the part of the
// normalized URI matched by the location is replaced by it.
func upstreamURI(r *request, loc *config.Location, pp *config.ProxyPass) string {
	if !pp.HasURI {
		if r.redirected {
			u := escapeURI(r.uri)
			if r.args != "" {
				u += "?" + r.args
			}
			return u
		}
		return r.unparsedURI
	}
	rest := r.uri
	if !loc.IsRegex() && strings.HasPrefix(rest, loc.Path) {
		rest = rest[len(loc.Path):]
	}
	if r.quoted {
		rest = escapeURI(rest)
	}
	u := pp.URI + rest
	if r.args != "" {
		u += "?" + r.args
	}
	return u
}

// defaultProxyHeaders are the headers nginx's proxy module sets unless
// proxy_set_header names them (ngx_http_proxy_headers).
var defaultProxyHeaders = []config.Header{
	{Name: "Host", Value: "$proxy_host"},
	{Name: "Connection", Value: "close"},
	{Name: "Content-Length", Value: "$proxy_internal_body_length"},
	{Name: "Transfer-Encoding", Value: "$proxy_internal_chunked"},
	{Name: "TE", Value: ""},
	{Name: "Keep-Alive", Value: ""},
	{Name: "Expect", Value: ""},
	{Name: "Upgrade", Value: ""},
}

// upstreamHead builds the request line and headers sent upstream, in
// nginx's order: proxy_set_header lines, then defaults not overridden,
// then the client's own headers except any named above. Empty values are
// not sent.
func (x *exchange) upstreamHead(s *config.Settings, uri string, body *reqBody, tpls *templates) []byte {
	r := x.req
	var b strings.Builder
	b.Grow(512)
	b.WriteString(r.method)
	b.WriteByte(' ')
	b.WriteString(uri)
	b.WriteString(" HTTP/")
	b.WriteString(s.HTTPVersion)
	b.WriteString("\r\n")

	merged := make([]config.Header, 0, len(s.SetHeaders)+len(defaultProxyHeaders))
	merged = append(merged, s.SetHeaders...)
	for _, d := range defaultProxyHeaders {
		if !hasHeaderName(s.SetHeaders, d.Name) {
			merged = append(merged, d)
		}
	}
	for _, h := range merged {
		var v string
		switch h.Value {
		case "$proxy_internal_body_length":
			if body.length >= 0 {
				v = strconv.FormatInt(body.length, 10)
			}
		case "$proxy_internal_chunked":
			if body.chunked {
				v = "chunked"
			}
		default:
			v = x.expand(tpls.get(h.Value))
		}
		if v == "" {
			continue
		}
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	if s.PassRequestHeaders {
		for _, h := range r.headers {
			if hasHeaderName(merged, h.name) {
				continue
			}
			b.WriteString(h.name)
			b.WriteString(": ")
			b.WriteString(h.value)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func hasHeaderName(hs []config.Header, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}
