package proxyd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// header is one header line as received, name case kept.
type header struct {
	name, value string
}

// request is a parsed client request. Fields mirror the nginx variables
// they feed.
type request struct {
	line         string // raw request line, $request
	method       string
	unparsedURI  string // $request_uri: path and args as sent
	uri          string // $uri: decoded, normalized path
	args         string
	quoted       bool // the URI had %-escapes
	proto        string
	minor        int // HTTP/1.minor
	headers      []header
	host         string // validated, lowercased, no port
	absHost      bool   // host came from an absolute URI
	contentLen   int64  // -1 when absent
	chunked      bool
	keepAlive    bool
	expect100    bool
	headerLength int64 // bytes of request line and headers
	sawHost      bool
	redirected   bool // $uri changed by an internal redirect
	sawLength    bool
}

// httpError is a request nginx rejects before handling it.
type httpError struct {
	status int
	reason string // for the error log
}

func (e *httpError) Error() string { return e.reason }

const maxLine = 8192 // large_client_header_buffers 4 8k: one line must fit a buffer
const maxHeaderBytes = 4 * 8192

var errIdleClose = errors.New("connection closed before a request")

// readRequest reads a request line and headers from br. It returns
// errIdleClose when the peer closed before sending anything, or a
// *httpError for a malformed request (with whatever was parsed).
func readRequest(br *bufio.Reader) (*request, error) {
	r := &request{contentLen: -1, headers: make([]header, 0, 8)}
	// skip empty lines before the request line, as nginx does
	var line []byte
	for {
		l, n, err := readLine(br)
		r.headerLength += int64(n)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				r.line = string(l)
				return r, &httpError{414, "client sent too long URI"}
			}
			if n == 0 || errors.Is(err, io.EOF) && len(bytes.TrimSpace(l)) == 0 {
				return nil, errIdleClose
			}
			r.line = string(l)
			return r, &httpError{400, "client prematurely closed connection"}
		}
		if len(l) > 0 {
			line = l
			break
		}
	}
	r.line = string(line)
	if err := r.parseRequestLine(line); err != nil {
		return r, err
	}
	total := 0
	for {
		l, n, err := readLine(br)
		total += n
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return r, &httpError{494, "client sent too long header line"}
			}
			r.headerLength += int64(n)
			return r, &httpError{400, "client prematurely closed connection"}
		}
		if total > maxHeaderBytes {
			return r, &httpError{494, "client sent too large request"}
		}
		if len(l) == 0 {
			r.headerLength += int64(n)
			break
		}
		// like nginx, each line is checked as it comes: after an error the
		// rest of the headers are unknown (and not logged); an invalid
		// line does not count in $request_length
		if err := r.addHeaderLine(l); err != nil {
			if err.(*httpError).reason != errInvalidHeaderLine {
				r.headerLength += int64(n)
			}
			return r, err
		}
		r.headerLength += int64(n)
	}
	return r, r.finishHeaders()
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line ended by LF (CR optional) and returns it without
// the line ending, plus the bytes consumed. The line may point into br's
// buffer: it is valid until the next read, and must not be appended to.
func readLine(br *bufio.Reader) ([]byte, int, error) {
	chunk, err := br.ReadSlice('\n')
	switch {
	case err == nil && len(chunk) <= maxLine:
		n := len(chunk)
		chunk = chunk[:len(chunk)-1]
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\r' {
			chunk = chunk[:len(chunk)-1]
		}
		return chunk, n, nil
	case err == nil:
		return chunk, len(chunk), errLineTooLong
	case err == bufio.ErrBufferFull:
		return readLongLine(br, chunk)
	}
	return chunk, len(chunk), err
}

// readLongLine continues a line longer than br's buffer.
func readLongLine(br *bufio.Reader, first []byte) ([]byte, int, error) {
	buf := append([]byte(nil), first...)
	n := len(first)
	if n > maxLine {
		return buf, n, errLineTooLong
	}
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if len(buf)+len(chunk) > maxLine {
			return append(buf, chunk...), n, errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return buf, n, err
		}
		break
	}
	buf = buf[:len(buf)-1]
	if len(buf) > 0 && buf[len(buf)-1] == '\r' {
		buf = buf[:len(buf)-1]
	}
	return buf, n, nil
}

// errInvalidRequest is the request line nginx rejects without a more
// precise reason.
var errInvalidRequest = &httpError{400, "client sent invalid request"}

func (r *request) parseRequestLine(line []byte) error {
	bad := errInvalidRequest
	s := string(line)
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return bad
	}
	r.method = s[:i]
	for _, c := range []byte(r.method) {
		if !(c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return bad
		}
	}
	rest := strings.TrimLeft(s[i:], " ")
	j := strings.IndexByte(rest, ' ')
	if j < 0 {
		return &httpError{400, "client sent HTTP/0.9 request"}
	}
	target := rest[:j]
	proto := strings.TrimRight(strings.TrimLeft(rest[j:], " "), " ")
	if !strings.HasPrefix(proto, "HTTP/") {
		return bad
	}
	major, minor, ok := parseVersion(proto[5:])
	if !ok {
		return bad
	}
	if major != 1 {
		if major > 1 {
			return &httpError{505, "client sent unsupported HTTP version"}
		}
		return bad
	}
	r.proto = "HTTP/1.0"
	if minor >= 1 {
		r.proto = "HTTP/1.1"
		minor = 1
	}
	r.minor = minor
	r.keepAlive = minor >= 1
	if strings.HasPrefix(strings.ToLower(target), "http://") || strings.HasPrefix(strings.ToLower(target), "https://") {
		rest := target[strings.Index(target, "//")+2:]
		k := strings.IndexAny(rest, "/?")
		hostport := rest
		target = "/"
		if k >= 0 {
			hostport, target = rest[:k], rest[k:]
			if target[0] == '?' {
				target = "/" + target
			}
		}
		h, ok := validateHost(hostport)
		if !ok {
			return &httpError{400, "client sent invalid host in request line"}
		}
		r.host, r.absHost = h, true
	}
	if target == "" || target[0] != '/' {
		return bad
	}
	r.unparsedURI = target
	path := target
	if q := strings.IndexByte(target, '?'); q >= 0 {
		path, r.args = target[:q], target[q+1:]
	}
	r.quoted = strings.IndexByte(path, '%') >= 0
	u, ok := normalizePath(path)
	if !ok {
		return bad
	}
	r.uri = u
	return nil
}

func parseVersion(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(v, ".")
	if !found || a == "" || b == "" || len(a) > 3 || len(b) > 3 {
		return 0, 0, false
	}
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	return ma, mi, err1 == nil && err2 == nil
}

// addHeaderLine parses "Name: value". Names with characters nginx
// ignores (including "_", with underscores_in_headers off) are dropped.
const errInvalidHeaderLine = "client sent invalid header line"

func (r *request) addHeaderLine(l []byte) error {
	if l[0] == ' ' || l[0] == '\t' {
		return &httpError{400, errInvalidHeaderLine}
	}
	colon := bytes.IndexByte(l, ':')
	if colon == 0 {
		return &httpError{400, errInvalidHeaderLine}
	}
	if colon < 0 {
		// nginx takes a line without a colon as a header with an empty value
		colon = len(l)
	}
	// one string for the line; name and value are slices of it
	line := string(l)
	name := line[:colon]
	for _, c := range []byte(name) {
		if c <= ' ' || c == 0x7f {
			return &httpError{400, errInvalidHeaderLine}
		}
	}
	var value string
	if colon < len(line) {
		value = strings.Trim(line[colon+1:], " \t")
	}
	if strings.IndexByte(value, 0) >= 0 {
		return &httpError{400, errInvalidHeaderLine}
	}
	if !validHeaderName(name) {
		return nil
	}
	r.headers = append(r.headers, header{name, value})
	switch {
	case strings.EqualFold(name, "Host"):
		if r.sawHost {
			return &httpError{400, "client sent duplicate host header"}
		}
		r.sawHost = true
		hv, ok := validateHost(value)
		if !ok {
			return &httpError{400, "client sent invalid host header"}
		}
		if !r.absHost {
			r.host = hv
		}
	case strings.EqualFold(name, "Content-Length"):
		if r.sawLength {
			return &httpError{400, "client sent duplicate header line"}
		}
		r.sawLength = true
	}
	return nil
}

func validHeaderName(name string) bool {
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// finishHeaders applies the checks nginx makes once headers are read.
func (r *request) finishHeaders() error {
	var tes int
	var te string
	for _, h := range r.headers {
		var buf [32]byte
		switch string(asciiLower(buf[:0], h.name)) {
		case "content-length":
			n, err := strconv.ParseInt(h.value, 10, 64)
			if err != nil || n < 0 || h.value[0] == '+' {
				return &httpError{400, "client sent invalid \"Content-Length\" header"}
			}
			r.contentLen = n
		case "transfer-encoding":
			tes++
			te = h.value
		case "connection":
			v := h.value
			if !isLowerASCII(v) {
				v = strings.ToLower(v)
			}
			if strings.Contains(v, "close") {
				r.keepAlive = false
			} else if strings.Contains(v, "keep-alive") {
				r.keepAlive = true
			}
		case "expect":
			if strings.EqualFold(h.value, "100-continue") {
				r.expect100 = true
			}
		}
	}
	if r.minor >= 1 && !r.sawHost {
		return &httpError{400, "client sent HTTP/1.1 request without \"Host\" header"}
	}
	if tes > 0 {
		if tes > 1 || !strings.EqualFold(te, "chunked") {
			return &httpError{501, "client sent unknown \"Transfer-Encoding\""}
		}
		if r.minor == 0 {
			return &httpError{400, "client sent \"Transfer-Encoding\" header in HTTP/1.0 request"}
		}
		if r.contentLen >= 0 {
			return &httpError{400, "client sent \"Content-Length\" and \"Transfer-Encoding\" headers"}
		}
		r.chunked = true
	}
	return nil
}

// validateHost lowercases a Host value and drops the port and a trailing
// dot, rejecting what ngx_http_validate_host rejects.
func validateHost(h string) (string, bool) {
	dotPos, hostLen := len(h), len(h)
	const (
		usual = iota
		literal
		rest
	)
	state := usual
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch c {
		case '.':
			if dotPos == i-1 {
				return "", false
			}
			dotPos = i
		case ':':
			if state == usual {
				hostLen = i
				state = rest
			}
		case '[':
			if i == 0 {
				state = literal
			}
		case ']':
			if state == literal {
				hostLen = i + 1
				state = rest
			}
		default:
			if c == '/' || c <= 0x20 || c == 0x7f {
				return "", false
			}
		}
	}
	if dotPos == hostLen-1 {
		hostLen--
	}
	if hostLen <= 0 {
		return "", false
	}
	return strings.ToLower(h[:hostLen]), true
}

// header returns the first value of a header, case-insensitively.
func (r *request) header(name string) (string, bool) {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// headerValues returns every value of a header.
func (r *request) headerValues(name string) []string {
	var out []string
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			out = append(out, h.value)
		}
	}
	return out
}
