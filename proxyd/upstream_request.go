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
	b := make([]byte, 0, 512)
	b = append(b, r.method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/"...)
	b = append(b, s.HTTPVersion...)
	b = append(b, "\r\n"...)
	// proxy_set_header lines, then the defaults they do not name
	set := len(s.SetHeaders)
	for i := range set + len(defaultProxyHeaders) {
		var h config.Header
		if i < set {
			h = s.SetHeaders[i]
		} else if h = defaultProxyHeaders[i-set]; hasHeaderName(s.SetHeaders, h.Name) {
			continue
		}
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
		b = appendHeader(b, h.Name, v)
	}
	if s.PassRequestHeaders {
		for _, h := range r.headers {
			if hasHeaderName(s.SetHeaders, h.name) || hasHeaderName(defaultProxyHeaders, h.name) {
				continue
			}
			b = appendHeader(b, h.name, h.value)
		}
	}
	return append(b, "\r\n"...)
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

func hasHeaderName(hs []config.Header, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}
