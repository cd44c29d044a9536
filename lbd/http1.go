package lbd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"halab/internal/renew"
)

// Header is an HTTP header list that keeps the order and spelling of the
// fields as received, the way HAProxy's HTX does. Names compare without
// regard to case; on output they are written in lower case as HAProxy 2.6
// does for HTTP/1.1.
type Header []Field

// Field is one header field.
type Field struct {
	Name  string
	Value string
}

// Get returns the first value of name.
func (h Header) Get(name string) (string, bool) {
	for _, f := range h {
		if equalFoldASCII(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of name, one per field line.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if equalFoldASCII(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Del removes every field called name.
func (h *Header) Del(name string) {
	out := (*h)[:0]
	for _, f := range *h {
		if !equalFoldASCII(f.Name, name) {
			out = append(out, f)
		}
	}
	*h = out
}

// Add appends a field.
func (h *Header) Add(name, value string) { *h = append(*h, Field{name, value}) }

// Set replaces every field called name by one field at the end.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}

// hasToken reports whether a comma-separated header contains token.
func (h Header) hasToken(name, token string) bool {
	for _, f := range h {
		if !equalFoldASCII(f.Name, name) {
			continue
		}
		for rest := f.Value; rest != ""; {
			var t string
			t, rest, _ = strings.Cut(rest, ",")
			if equalFoldASCII(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Request is a parsed HTTP/1.x request head.
type Request struct {
	Method  string
	URI     string
	Proto   string // HTTP/1.0 or HTTP/1.1
	Header  Header
	Body    io.Reader // framed body, never nil
	chunked bool
	length  int64 // -1 when chunked or absent

	// line is the request line as read, when it was
	line string
	// limited is Body when a Content-Length frames it
	limited io.LimitedReader
}

// requestLine is the request line as it came: method, URI and version.
func (r *Request) requestLine() string {
	if r.line != "" {
		return r.line
	}
	return r.Method + " " + r.URI + " " + r.Proto
}

// Path is the request path without query string.
func (r *Request) Path() string {
	p := r.URI
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		rest := p[strings.Index(p, "//")+2:]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i:]
		}
		return "/"
	}
	return p
}

// Response is a parsed HTTP/1.x response head.
type Response struct {
	Proto   string
	Status  int
	Reason  string
	Header  Header
	Body    io.Reader
	chunked bool
	length  int64 // -1 unknown (chunked or until close)
	toClose bool  // body delimited by connection close
	// limited is Body when a Content-Length frames it
	limited io.LimitedReader

	// abandoned: the server answered before the request body was sent;
	// both connections close after this response.
	abandoned bool
}

var errBadRequest = errors.New("bad request")

// readHead reads the start line and header fields of a message. The
// head becomes one string, the start line and fields slices of it: one
// allocation for the text and one for the fields, whatever their number.
func readHead(br *bufio.Reader) (string, Header, error) {
	// the head's lines, on the stack while they fit (Go zeroes a stack
	// array at each call: a larger one costs more than it saves)
	var buf [1024]byte
	raw := buf[:0]
	for len(raw) == 0 { // tolerate empty lines before a request
		line, err := readLine(br)
		if err != nil {
			return "", nil, err
		}
		raw = append(raw, line...)
	}
	start := len(raw)
	// each field's name and value as offsets in raw (on the stack for
	// the usual number of fields; a head is at most 64 KiB)
	var spanBuf [16][4]int32
	spans := spanBuf[:0]
	total := start
	for {
		line, err := readLine(br)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", nil, err
		}
		if len(line) == 0 {
			break
		}
		total += len(line)
		if total > 64*1024 || len(spans) > 200 {
			return "", nil, fmt.Errorf("%w: header too large", errBadRequest)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return "", nil, fmt.Errorf("%w: obsolete line folding", errBadRequest)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || hasBlank(line[:colon]) {
			return "", nil, fmt.Errorf("%w: malformed header line %q", errBadRequest, line)
		}
		vs, ve := colon+1, len(line)
		for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
			vs++
		}
		for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
			ve--
		}
		base := len(raw)
		raw = append(raw, line...)
		spans = append(spans, [4]int32{int32(base), int32(base + colon), int32(base + vs), int32(base + ve)})
	}
	text := string(raw)
	var h Header
	if len(spans) > 0 {
		h = make(Header, len(spans))
		for k, sp := range spans {
			h[k] = Field{text[sp[0]:sp[1]], text[sp[2]:sp[3]]}
		}
	}
	return text[:start], h, nil
}

// equalFoldASCII reports whether a and b are equal but for the case of
// ASCII letters, as HAProxy compares header names and tokens (a non-ASCII
// byte matches only itself: "Hoſt" is not "Host", whatever Unicode's
// folding says).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// hasBlank reports whether b holds a space or a tab.
func hasBlank(b []byte) bool {
	for _, c := range b {
		if c == ' ' || c == '\t' {
			return true
		}
	}
	return false
}

// readLine reads a line and returns it without its LF or CRLF, valid
// until the next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line too long", errBadRequest)
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// ReadRequest reads one request head and frames its body.
func ReadRequest(br *bufio.Reader) (*Request, error) {
	start, h, err := readHead(br)
	if err != nil {
		return nil, err
	}
	method, rest, _ := strings.Cut(start, " ")
	uri, proto, _ := strings.Cut(rest, " ")
	if method == "" || uri == "" || strings.Contains(proto, " ") || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("%w: request line %q", errBadRequest, start)
	}
	r := &Request{Method: method, URI: uri, Proto: proto, Header: h, length: -1, line: start}
	if err := frameBody(h, &r.chunked, &r.length); err != nil {
		return nil, err
	}
	switch {
	case r.chunked:
		r.Body = &chunkedBody{r: httputil.NewChunkedReader(br), br: br}
	case r.length > 0:
		r.limited = io.LimitedReader{R: br, N: r.length}
		r.Body = &r.limited
	default:
		r.length = 0
		r.Body = noBody{}
	}
	return r, nil
}

// frameBody reads Transfer-Encoding and Content-Length.
func frameBody(h Header, chunked *bool, length *int64) error {
	if te, ok := h.Get("Transfer-Encoding"); ok {
		if !equalFoldASCII(strings.TrimSpace(lastToken(te)), "chunked") {
			return fmt.Errorf("%w: unsupported transfer-encoding %q", errBadRequest, te)
		}
		*chunked = true
		h.Del("Content-Length")
		return nil
	}
	cl, found := "", false
	for _, f := range h {
		if !equalFoldASCII(f.Name, "Content-Length") {
			continue
		}
		if found && f.Value != cl {
			return fmt.Errorf("%w: conflicting content-length", errBadRequest)
		}
		cl, found = f.Value, true
	}
	if !found {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%w: invalid content-length %q", errBadRequest, cl)
	}
	*length = n
	return nil
}

// noBody is the body of a message that has none.
type noBody struct{}

func (noBody) Read([]byte) (int, error) { return 0, io.EOF }

func lastToken(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		return v[i+1:]
	}
	return v
}

// ReadResponse reads a response head to a request with method method.
func ReadResponse(br *bufio.Reader, method string) (*Response, error) {
	start, h, err := readHead(br)
	if err != nil {
		return nil, err
	}
	proto, rest, _ := strings.Cut(start, " ")
	code, reason, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || len(code) != 3 {
		return nil, fmt.Errorf("invalid status line %q", start)
	}
	r := &Response{Proto: proto, Status: status, Reason: reason, Header: h, length: -1}
	if method == "HEAD" || status/100 == 1 || status == 204 || status == 304 {
		r.length = 0
		r.Body = noBody{}
		return r, nil
	}
	if err := frameBody(h, &r.chunked, &r.length); err != nil {
		return nil, err
	}
	switch {
	case r.chunked:
		r.Body = &chunkedBody{r: httputil.NewChunkedReader(br), br: br}
	case r.length >= 0:
		r.limited = io.LimitedReader{R: br, N: r.length}
		r.Body = &r.limited
	default:
		r.toClose = true
		r.Body = br
	}
	return r, nil
}

// writeRequestHead writes a request's start line and header fields.
func writeRequestHead(w *bufio.Writer, req *Request) {
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(req.URI)
	w.WriteByte(' ')
	w.WriteString(req.Proto)
	w.WriteString("\r\n")
	writeHeader(w, req.Header)
	w.WriteString("\r\n")
}

// writeHeader writes fields in order, their names in lower case, each
// line built in the writer's free space and written at once.
func writeHeader(w *bufio.Writer, h Header) {
	for _, f := range h {
		b := appendLower(w.AvailableBuffer(), f.Name)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
		w.Write(b)
	}
}

// writeBody copies body to w, chunk-encoding it when chunked is set.
func writeBody(w *bufio.Writer, body io.Reader, chunked bool) (int64, error) {
	if !chunked {
		return io.Copy(w, body)
	}
	cw := httputil.NewChunkedWriter(w)
	n, err := io.Copy(cw, body)
	if err != nil {
		return n, err
	}
	if err := cw.Close(); err != nil {
		return n, err
	}
	_, err = w.WriteString("\r\n")
	return n, err
}

// chunkedBody decodes a chunked body and, at its end, consumes the trailer
// section so that the next message starts at the right place.
type chunkedBody struct {
	r    io.Reader
	br   *bufio.Reader
	done bool
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.done = true
		for {
			line, lerr := readLine(c.br)
			if lerr != nil {
				return n, lerr
			}
			if len(line) == 0 {
				break
			}
		}
	}
	return n, err
}

// countWriter counts the bytes written to a connection. When idle is set,
// each write gets that long: HAProxy's timeouts bound inactivity, not a
// whole transfer (the deadline is renewed as renew.Due paces it).
type countWriter struct {
	w       io.Writer
	n       int64
	idle    time.Duration
	renewed time.Time
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.idle > 0 {
		if now, due := renew.Due(&c.renewed, c.idle); due {
			if conn, ok := c.w.(net.Conn); ok {
				conn.SetWriteDeadline(now.Add(c.idle))
			}
		}
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// idleReader reads a message body with an inactivity timeout: each read
// gets idle to bring data.
type idleReader struct {
	r     io.Reader
	pacer *readPacer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	if r.idle > 0 {
		r.pacer.set(r.idle, false)
	}
	return r.r.Read(p)
}

// readPacer sets the read deadline of a connection. A repeated timeout
// only moves it as renew.Due paces it: the phases of a request and the
// reads of a body usually share one timeout.
type readPacer struct {
	conn    net.Conn
	timeout time.Duration // the last one set, 0 for none
	renewed time.Time
}

// set gives the peer d to bring data, 0 meaning no limit. fresh forces a
// new deadline: someone else may have moved it.
func (p *readPacer) set(d time.Duration, fresh bool) {
	if d <= 0 {
		p.conn.SetReadDeadline(time.Time{})
		p.timeout = 0
		return
	}
	if d != p.timeout || fresh {
		p.renewed = time.Time{}
	}
	if now, due := renew.Due(&p.renewed, d); due {
		p.conn.SetReadDeadline(now.Add(d))
		p.timeout = d
	}
}

// appendLower appends s in ASCII lower case.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// bufPools recycles connection buffers: connections come and go (a new
// one per request without keep-alive), their 16 kB buffers need not.
type bufPools struct {
	readers sync.Pool
	writers sync.Pool
}

func (p *bufPools) getReader(r io.Reader) *bufio.Reader {
	if br, ok := p.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 16<<10)
}

func (p *bufPools) putReader(br *bufio.Reader) {
	br.Reset(nil)
	p.readers.Put(br)
}

func (p *bufPools) getWriter(w io.Writer) *bufio.Writer {
	if bw, ok := p.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 16<<10)
}

func (p *bufPools) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	p.writers.Put(bw)
}
