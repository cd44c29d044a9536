package proxyd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// backend is a raw HTTP/1 test upstream that records the exact request
// head it received (keyed by the X-Test-Id header) and answers according
// to the path:
//
//	/status/NNN  answer with that status
//	/slow        wait 3 s before answering
//	/chunked     chunked response body
//	/eof         body delimited by closing the connection
//	/redirect    302 with a Location pointing at the upstream
//	/ws          101 Switching Protocols, then echo bytes
//
// Anything else: 200 with a small body naming the backend.
type backend struct {
	name  string
	ln    net.Listener
	mu    sync.Mutex
	seen  map[string]string // test id -> raw head
	hits  []string          // test ids in arrival order
	conns int               // connections accepted
}

func startBackend(t *testing.T, name, addr string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	b := &backend{name: name, ln: ln, seen: map[string]string{}}
	go b.serve()
	t.Cleanup(func() { _ = ln.Close() })
	return b
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns++
		b.mu.Unlock()
		go b.handle(c)
	}
}

func (b *backend) head(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[id]
}

func (b *backend) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen = map[string]string{}
	b.hits = nil
}

func (b *backend) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var head bytes.Buffer
		var method, path, id string
		var clen int64 = -1
		chunked, closeConn := false, false
		for i := 0; ; i++ {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			l := strings.TrimRight(line, "\r\n")
			if l == "" {
				break
			}
			if i == 0 {
				f := strings.Fields(l)
				if len(f) >= 2 {
					method, path = f[0], f[1]
				}
				if strings.HasSuffix(l, "HTTP/1.0") {
					closeConn = true
				}
				continue
			}
			k, v, _ := strings.Cut(l, ":")
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "x-test-id":
				id = v
			case "content-length":
				clen, _ = strconv.ParseInt(v, 10, 64)
			case "transfer-encoding":
				chunked = strings.EqualFold(v, "chunked")
			case "connection":
				if strings.EqualFold(v, "close") {
					closeConn = true
				}
			}
		}
		var body []byte
		switch {
		case chunked:
			body, _ = io.ReadAll(&chunkedBody{br: br})
		case clen > 0:
			body = make([]byte, clen)
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
		}
		b.mu.Lock()
		b.seen[id] = head.String() + fmt.Sprintf("<body %d bytes>", len(body))
		b.hits = append(b.hits, id)
		b.mu.Unlock()
		if !b.respond(c, br, method, path, len(body)) || closeConn {
			return
		}
	}
}

// respond writes the answer; false means the connection must close.
func (b *backend) respond(c net.Conn, br *bufio.Reader, method, path string, bodyLen int) bool {
	msg := fmt.Sprintf("%s %s %s body=%d\n", b.name, method, path, bodyLen)
	p, _, _ := strings.Cut(path, "?")
	switch {
	case strings.HasSuffix(p, "/http09"):
		fmt.Fprintf(c, "garbage line\r\nX-Backend: %s\r\n\r\n%s", b.name, msg)
		return false
	case strings.Contains(p, "/status/"):
		code := 200
		if rest := p[strings.Index(p, "/status/")+8:]; len(rest) >= 3 {
			code, _ = strconv.Atoi(rest[:3])
		}
		fmt.Fprintf(c, "HTTP/1.1 %d Whatever\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nX-Backend: %s\r\n\r\n%s", code, len(msg), b.name, msg)
	case strings.HasSuffix(p, "/slow"):
		time.Sleep(3 * time.Second)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
	case strings.HasSuffix(p, "/chunked"):
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-Backend: %s\r\n\r\n%x\r\n%s\r\n5\r\nhello\r\n0\r\n\r\n", b.name, len(msg), msg)
	case strings.HasSuffix(p, "/eof"):
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nX-Backend: %s\r\n\r\n%s", b.name, msg)
		return false
	case strings.HasSuffix(p, "/redirect"):
		fmt.Fprintf(c, "HTTP/1.1 302 Found\r\nLocation: http://%s/next\r\nContent-Length: 0\r\nX-Backend: %s\r\n\r\n", c.LocalAddr(), b.name)
	case strings.HasSuffix(p, "/pause"):
		time.Sleep(700 * time.Millisecond)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
	case strings.HasSuffix(p, "/big"):
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(big))
		_, _ = c.Write(big)
	case strings.HasSuffix(p, "/ws"):
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Backend: %s\r\n\r\n", b.name)
		_, _ = io.Copy(c, br)
		return false
	default:
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nServer: backend\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Backend: %s\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n%s", len(msg), b.name, msg)
	}
	return true
}
