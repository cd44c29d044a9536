package proxyd

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// respHead is a response header about to be sent to the client, in the
// pieces nginx's header filter orders: status, Server, Date, Content-Type,
// Content-Length, Location, Transfer-Encoding, Connection, then the rest.
type respHead struct {
	status        int
	statusLine    string // "200 OK"; empty for nginx's own
	contentType   string
	contentLength int64 // -1 when unknown
	location      string
	lastModified  string
	headers       []header
	serverTokens  bool
}

// cachedDate holds the Date header value, refreshed once a second.
var cachedDate atomic.Pointer[dateEntry]

type dateEntry struct {
	sec int64
	s   string
}

func httpDate(now time.Time) string {
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &dateEntry{sec, now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.s
}

// cachedTimeLocal holds $time_local, refreshed once a second.
var cachedTimeLocal atomic.Pointer[dateEntry]

func timeLocal(t time.Time) string {
	sec := t.Unix()
	if d := cachedTimeLocal.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &dateEntry{sec, t.Format("02/Jan/2006:15:04:05 -0700")}
	cachedTimeLocal.Store(d)
	return d.s
}

// bodyWriter writes a response body to the client, chunk-encoding when
// asked, and counts the body bytes for $body_bytes_sent.
//
// Like nginx, it counts the bytes on the wire, chunk framing included.
type bodyWriter struct {
	x       *exchange
	w       io.Writer
	chunked bool
	none    bool // HEAD, 204, 304: discard
}

func (b *bodyWriter) Write(p []byte) (int, error) {
	if b.none || len(p) == 0 {
		return len(p), nil
	}
	if b.chunked {
		size := strconv.FormatInt(int64(len(p)), 16) + "\r\n"
		if _, err := io.WriteString(b.w, size); err != nil {
			return 0, err
		}
		b.count(len(size) + 2)
	}
	n, err := b.w.Write(p)
	b.count(n)
	if err == nil && b.chunked {
		_, err = io.WriteString(b.w, "\r\n")
	}
	return n, err
}

func (b *bodyWriter) count(n int) {
	b.x.bodySent += int64(n)
	b.x.bytesSent += int64(n)
}

// finish writes the last chunk when chunked.
func (b *bodyWriter) finish() error {
	if b.chunked && !b.none {
		_, err := io.WriteString(b.w, "0\r\n\r\n")
		b.count(5)
		return err
	}
	return nil
}

// writeHead sends the response header and returns the writer for the
// body. It decides chunking and keep-alive as nginx does.
func (x *exchange) writeHead(h *respHead) *bodyWriter {
	r := x.req
	x.status = h.status
	c := x.c
	bw := &bodyWriter{x: x, w: c.bw}
	headerOnly := r != nil && r.method == "HEAD"
	if h.status == 204 || h.status == 304 || h.status < 200 {
		headerOnly = true
		if h.status == 204 {
			h.contentType = ""
			h.contentLength = -1
		}
	}
	chunked := false
	if h.contentLength < 0 && !headerOnly && h.status != 101 {
		if r != nil && r.minor >= 1 {
			chunked = true
		} else {
			x.keepAlive = false
		}
	}
	w := c.bw
	put := func(parts ...string) {
		for _, p := range parts {
			n, _ := w.WriteString(p)
			x.bytesSent += int64(n)
		}
	}
	sl := h.statusLine
	if sl == "" {
		sl = statusLine(h.status)
	}
	put("HTTP/1.1 ", sl, "\r\nServer: ", serverHeader(h.serverTokens), "\r\nDate: ", httpDate(time.Now()), "\r\n")
	if h.contentType != "" {
		put("Content-Type: ", h.contentType, "\r\n")
	}
	if h.contentLength >= 0 {
		put("Content-Length: ", strconv.FormatInt(h.contentLength, 10), "\r\n")
	}
	if h.lastModified != "" {
		put("Last-Modified: ", h.lastModified, "\r\n")
	}
	if h.location != "" {
		put("Location: ", h.location, "\r\n")
	}
	if chunked {
		put("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case h.status == 101:
		put("Connection: upgrade\r\n")
	case x.keepAlive:
		put("Connection: keep-alive\r\n")
	default:
		put("Connection: close\r\n")
	}
	for _, hd := range h.headers {
		put(hd.name, ": ", hd.value, "\r\n")
	}
	put("\r\n")
	x.sent = h
	bw.none = headerOnly
	bw.chunked = chunked
	return bw
}

// sendSpecial answers with nginx's built-in page for status (or an empty
// body when nginx has none), as ngx_http_special_response_handler does.
func (x *exchange) sendSpecial(status int, location string, tokens bool) {
	x.sendSpecialFull(status, location, nil, tokens)
}

// sendSpecialHeaders is sendSpecial with extra headers after Connection.
func (x *exchange) sendSpecialHeaders(status int, extra []header, tokens bool) {
	x.sendSpecialFull(status, "", extra, tokens)
}

func (x *exchange) sendSpecialFull(status int, location string, extra []header, tokens bool) {
	// ngx_http_special_response_handler marks Expect as tested: no
	// 100 Continue before its pages
	x.continued = true
	x.discardBeforeResponse()
	page := errorPage(status, tokens)
	if status == 494 { // "Request Header Or Cookie Too Large" goes out as 400
		status = 400
	}
	switch status {
	case 400, 413, 414, 500, 501: // as ngx_http_special_response_handler
		x.keepAlive = false
	}
	h := &respHead{status: status, contentLength: int64(len(page)), location: location, headers: extra, serverTokens: tokens}
	if page != nil {
		h.contentType = "text/html"
	}
	bw := x.writeHead(h)
	_, _ = bw.Write(page)
	_ = x.c.bw.Flush()
}

// sendText answers with a body given by "return CODE TEXT".
func (x *exchange) sendText(status int, contentType, text string, tokens bool) {
	x.discardBeforeResponse()
	h := &respHead{status: status, contentType: contentType, contentLength: int64(len(text)), serverTokens: tokens}
	bw := x.writeHead(h)
	_, _ = io.WriteString(bw, text)
	_ = x.c.bw.Flush()
}

// discardBeforeResponse drops an unread request body before nginx's own
// responses, as ngx_http_discard_request_body does; when that is not
// possible the connection will close.
func (x *exchange) discardBeforeResponse() {
	if x.bodyRead || x.req == nil {
		return
	}
	if !x.discardBody() {
		x.keepAlive = false
	}
	x.bodyRead = true
}
