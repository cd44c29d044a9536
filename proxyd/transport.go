package proxyd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"halab/internal/tcpdial"
)

// upConn is a connection to an upstream peer.
type upConn struct {
	nc     net.Conn
	br     *bufio.Reader
	addr   netip.AddrPort
	cached bool // taken from the keep-alive cache
}

func (u *upConn) close() {
	_ = u.nc.Close()
	if u.br != nil {
		putReader(&upReaderPool, u.br)
		u.br = nil
	}
}

// dial connects to a peer within timeout. ctx only cancels the dial.
func dial(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (*upConn, error) {
	nc, err := tcpdial.Dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &upConn{nc: nc, br: getReader(&upReaderPool, nc), addr: addr}, nil
}

// connCache keeps idle upstream connections for reuse ("keepalive N" in an
// upstream block), dropping the least recently used beyond N.
type connCache struct {
	mu   sync.Mutex
	max  int
	idle []*upConn
}

func newConnCache(max int) *connCache { return &connCache{max: max} }

// get returns a live idle connection to addr, or nil.
func (c *connCache) get(addr netip.AddrPort) *upConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.idle) - 1; i >= 0; i-- {
		u := c.idle[i]
		if u.addr != addr {
			continue
		}
		c.idle = append(c.idle[:i], c.idle[i+1:]...)
		if !u.alive() {
			u.close()
			continue
		}
		u.cached = true
		return u
	}
	return nil
}

// alive checks without blocking that the peer has not closed or sent
// unexpected data on an idle connection.
func (u *upConn) alive() bool {
	if u.br.Buffered() > 0 {
		return false
	}
	_ = u.nc.SetReadDeadline(time.Now().Add(time.Microsecond))
	_, err := u.br.Peek(1)
	_ = u.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *connCache) put(u *upConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u.cached = false
	c.idle = append(c.idle, u)
	for len(c.idle) > c.max {
		c.idle[0].close()
		c.idle = c.idle[1:]
	}
}

func (c *connCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range c.idle {
		u.close()
	}
	c.idle = nil
}

// upResponse is an upstream response header.
type upResponse struct {
	status        int
	statusLine    string // "200 OK" as the upstream wrote it
	minor         int
	headers       []header
	contentLength int64 // -1 when absent
	chunked       bool
	connClose     bool
	eofBody       bool   // body ends when the upstream closes
	http09        []byte // not HTTP/1.x: the bytes read so far, relayed as they are
}

var (
	errUpstreamClosed = errors.New("upstream prematurely closed connection")
	errInvalidHeader  = errors.New("upstream sent invalid header")
)

// readResponseHead reads a status line and headers from an upstream,
// skipping 100 Continue.
func readResponseHead(br *bufio.Reader, method string) (*upResponse, error) {
	for {
		res, err := readOneHead(br, method)
		if err != nil {
			return nil, err
		}
		if res.status == 100 {
			continue
		}
		return res, nil
	}
}

func readOneHead(br *bufio.Reader, method string) (*upResponse, error) {
	line, n, err := readLine(br)
	if err != nil {
		if isTimeout(err) || !errors.Is(err, io.EOF) {
			// a reset is nginx's "recv() failed (104: ...)"
			return nil, err
		}
		return nil, errUpstreamClosed
	}
	res := &upResponse{contentLength: -1, headers: make([]header, 0, 8)}
	code, ok := parseStatusLine(line)
	if !ok {
		// nginx: "upstream sent no valid HTTP/1.0 header"; the response is
		// taken as HTTP/0.9 and relayed byte for byte until the upstream closes
		raw := make([]byte, 0, n)
		raw = append(raw, line...)
		raw = append(raw, "\r\n"[2-min(2, n-len(line)):]...)
		return &upResponse{status: 200, http09: raw, eofBody: true, connClose: true, contentLength: -1}, nil
	}
	res.minor = int(line[7] - '0')
	res.status = code
	if std := statusLine(code); string(line[9:]) == std {
		res.statusLine = std // (no copy for the usual line)
	} else if res.statusLine = strings.TrimRight(string(line[9:]), " "); len(res.statusLine) == 3 {
		res.statusLine = std
	}
	res.connClose = res.minor == 0
	for {
		l, _, err := readLine(br)
		if err != nil {
			if isTimeout(err) {
				return nil, err
			}
			if errors.Is(err, io.EOF) {
				return nil, errUpstreamClosed
			}
			return nil, errInvalidHeader
		}
		if len(l) == 0 {
			break
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return nil, errInvalidHeader
		}
		// one string for the line; name and value are slices of it
		line := string(l)
		name := line[:colon]
		value := strings.Trim(line[colon+1:], " \t")
		res.headers = append(res.headers, header{name, value})
		switch {
		case len(name) == 14 && strings.EqualFold(name, "content-length"):
			v, err := strconv.ParseInt(value, 10, 64)
			if err != nil || v < 0 {
				return nil, errInvalidHeader
			}
			res.contentLength = v
		case len(name) == 17 && strings.EqualFold(name, "transfer-encoding"):
			if strings.EqualFold(value, "chunked") {
				res.chunked = true
			}
		case len(name) == 10 && strings.EqualFold(name, "connection"):
			v := strings.ToLower(value)
			if strings.Contains(v, "close") {
				res.connClose = true
			} else if strings.Contains(v, "keep-alive") && res.minor == 0 {
				res.connClose = false
			}
		}
	}
	if res.chunked {
		res.contentLength = -1
	}
	if noBody(method, res.status) {
		res.chunked = false
		return res, nil
	}
	if !res.chunked && res.contentLength < 0 {
		res.eofBody = true
	}
	return res, nil
}

// parseStatusLine accepts what ngx_http_parse_status_line accepts:
// "HTTP/" major "." minor, spaces, exactly three digits, then a space or
// the end of the line.
func parseStatusLine(line []byte) (int, bool) {
	if !bytes.HasPrefix(line, []byte("HTTP/1.")) || len(line) < 12 || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return 0, false
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, false
	}
	return code, code >= 100
}

// bodyReader returns a reader for the upstream response body.
func (res *upResponse) bodyReader(br *bufio.Reader, method string) io.Reader {
	switch {
	case noBody(method, res.status):
		return bytes.NewReader(nil)
	case res.chunked:
		return &chunkedBody{br: br}
	case res.contentLength >= 0:
		return io.LimitReader(br, res.contentLength)
	}
	return br
}

// noBody tells a response that has no body whatever its head says.
func noBody(method string, status int) bool {
	return method == "HEAD" || status == 204 || status == 304 || status < 200
}
