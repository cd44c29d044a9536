package lbd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
)

// rawApp records the exact request heads it receives and answers by path:
// /chunked with a chunked body, /eof with a body ended by closing (/eof10
// the same as HTTP/1.0), /http10
// as an HTTP/1.0 server, anything else with a Content-Length body.
type rawApp struct {
	Addr  string
	mu    sync.Mutex
	heads []string
}

func startRawApp(t *testing.T) *rawApp {
	t.Helper()
	a := &rawApp{}
	a.Addr = nettest.Serve(t, "tcp", "127.0.0.1:0", a.serve).Addr().String()
	return a
}

func (a *rawApp) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		h := head.String()
		var body string
		if i := strings.Index(strings.ToLower(h), "content-length: "); i >= 0 {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(h[i+16:], "\r\n", 2)[0]))
			b := make([]byte, n)
			io.ReadFull(br, b)
			body = string(b)
		} else if strings.Contains(strings.ToLower(h), "transfer-encoding: chunked") {
			var sb strings.Builder
			for {
				line, _ := br.ReadString('\n')
				n, _ := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
				if n == 0 {
					br.ReadString('\n')
					break
				}
				b := make([]byte, n+2)
				io.ReadFull(br, b)
				sb.Write(b[:n])
			}
			body = "chunked:" + sb.String()
		}
		a.mu.Lock()
		a.heads = append(a.heads, h+body)
		a.mu.Unlock()
		path := strings.Fields(h)[1]
		switch {
		case strings.HasSuffix(path, "/chunked"):
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Multi: a, b,c\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
		case strings.HasSuffix(path, "/eof"):
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Kind: eof\r\n\r\nuntil the end")
			return
		case strings.HasSuffix(path, "/eof10"):
			io.WriteString(c, "HTTP/1.0 200 OK\r\nX-Kind: eof\r\n\r\nuntil the end")
			return
		case strings.HasSuffix(path, "/http10"):
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nSet-Cookie: JSESSIONID=x1\r\n\r\nold")
			return
		case strings.HasSuffix(path, "/garbage"):
			io.WriteString(c, "THIS IS NOT HTTP\r\n\r\n")
			return
		case strings.HasSuffix(path, "/drop"):
			return
		case strings.HasSuffix(path, "/hang"):
			time.Sleep(2 * time.Second)
			return
		case strings.HasSuffix(path, "/304"):
			io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")
		default:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: JSESSIONID=abc; Path=/\r\nX-Multi: a, b,c\r\nX-MiXeD-Case: v\r\n\r\nok")
		}
	}
}

func (a *rawApp) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.heads
	a.heads = nil
	return out
}

// rawExchange sends one raw request on a new connection and returns all
// the client receives until the balancer closes (the corpus asks for it).
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	if cw, ok := c.(*net.TCPConn); ok && strings.Contains(req, "HTTP/1.0") {
		_ = cw
	}
	b, _ := io.ReadAll(c)
	// Drop the Date header a server could add (ours do not) and nothing
	// else: the bytes must match.
	return string(b)
}

var wireCorpus = []string{
	"GET / HTTP/1.1\r\nHost: a.example\r\nUser-Agent: wire\r\nAccept: */*\r\nConnection: close\r\n\r\n",
	"GET /http10 HTTP/1.0\r\nUser-Agent: wire\r\n\r\n",
	"GET /tokens HTTP/1.1\r\nHost: a\r\nConnection: X-Foo, close\r\nX-Foo: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n",
	"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
	"POST /up/chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"GET /eof HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /eof HTTP/1.0\r\nHost: a\r\n\r\n",
	// a body until close to a client that keeps the connection: chunked
	// on the way out, from an HTTP/1.1 and from an HTTP/1.0 server
	"GET /eof HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /eof10 HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /304 HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\nConnection: close\r\n\r\n",
	"GET /c HTTP/1.1\r\nHost: a\r\nCookie: a=1; JSESSIONID=s1~zzz; b=2\r\nConnection: close\r\n\r\n",
	"GET /xff HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.7\r\nConnection: close\r\n\r\n",
	"GET http://proxy.example/abs?q=1 HTTP/1.1\r\nHost: proxy.example\r\nConnection: close\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /multi HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-A: 2\r\nx-a: 3\r\nConnection: close\r\n\r\n",
	"GET /1.0ka HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /second HTTP/1.0\r\nHost: a\r\n\r\n",
	"POST /expect HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
	"GET /bad HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
	"NOT-HTTP\r\n\r\n",
}

// TestDiffWire compares, byte for byte, what the application receives and
// what the client receives through haproxy and through lbd, with and
// without "option http-server-close".
func TestDiffWire(t *testing.T) {
	for _, mode := range []string{"keep-alive", "server-close"} {
		t.Run(mode, func(t *testing.T) {
			var got [2][]string
			for i, kind := range []string{"haproxy", "lbd"} {
				app := startRawApp(t)
				listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
				opt := ""
				if mode == "server-close" {
					opt = "option http-server-close\n"
				}
				cfg := "defaults\nmode http\n" + opt + "option forwardfor\ntimeout connect 2s\ntimeout client 5s\ntimeout server 5s\n" +
					"frontend fe\nbind " + listen + "\ndefault_backend be\nbackend be\ncookie JSESSIONID prefix\nserver s1 " + app.Addr + " cookie s1\n"
				var b *balancer
				if kind == "haproxy" {
					b = startHAProxy(t, cfg, listen)
				} else {
					b, _ = startLBD(t, cfg, listen)
				}
				for _, req := range wireCorpus {
					resp := rawExchange(t, b.Addr, req)
					time.Sleep(20 * time.Millisecond)
					heads := app.take()
					got[i] = append(got[i], fmt.Sprintf("REQUEST %q\nAPP SAW %q\nCLIENT GOT %q", req, heads, resp))
				}
			}
			for j := range got[0] {
				require.Equal(t, got[0][j], got[1][j])
			}
		})
	}
}

// TestDiffExpectContinue: a client that waits for "100 Continue" before
// sending its body gets it from the server through the balancer.
func TestDiffExpectContinue(t *testing.T) {
	var got [2]string
	for i, kind := range []string{"haproxy", "lbd"} {
		// An upload handler: it reads the body, so Go's server sends
		// "100 Continue" first.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got %q\n", b)
		})}
		go up.Serve(ln)
		t.Cleanup(func() { up.Close() })
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := diffDefaults + "frontend fe\nbind " + listen + "\ndefault_backend be\nbackend be\nserver s1 " + ln.Addr().String() + "\n"
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, listen)
		} else {
			b, _ = startLBD(t, cfg, listen)
		}
		c, err := net.Dial("tcp", b.Addr)
		require.NoError(t, err)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "POST /up?nocookie=1 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		require.NoError(t, err, kind)
		br.ReadString('\n')
		io.WriteString(c, "hello")
		rest, _ := io.ReadAll(br)
		c.Close()
		status := strings.SplitN(string(rest), "\r\n", 2)[0]
		body := string(rest[strings.Index(string(rest), "\r\n\r\n")+4:])
		got[i] = strings.TrimSpace(line) + " then " + status + " " + strings.TrimSpace(body)
	}
	require.Equal(t, got[0], got[1])
	require.Equal(t, `HTTP/1.1 100 Continue then HTTP/1.1 200 OK got "hello"`, got[1])
}

// errorCodes are the statuses whose built-in pages are compared.
var errorCodes = []int{400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504}

var denyRules = func() string {
	var b strings.Builder
	for _, c := range errorCodes {
		fmt.Fprintf(&b, "http-request deny deny_status %d if { path /deny/%d }\n", c, c)
	}
	return b.String()
}()

// TestDiffServerErrors compares the answers when the server misbehaves
// (garbage, closes without answering, too slow for "timeout server") and
// when a rule denies the request.
func TestDiffServerErrors(t *testing.T) {
	var got [2][]string
	for i, kind := range []string{"haproxy", "lbd"} {
		app := startRawApp(t)
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := "defaults\nmode http\ntimeout connect 1s\ntimeout client 5s\ntimeout server 400ms\nretries 1\n" +
			"frontend fe\nbind " + listen + "\nacl bad path_beg /admin\nhttp-request deny if bad\n" +
			"http-request deny deny_status 429 if { path /slowdown }\n" + denyRules + "default_backend be\n" +
			"backend be\nserver s1 " + app.Addr + "\n" +
			"backend none\nserver gone 127.0.0.1:1\n"
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, listen)
		} else {
			b, _ = startLBD(t, cfg, listen)
		}
		paths := []string{"/garbage", "/drop", "/hang", "/admin/x", "/slowdown"}
		for _, code := range errorCodes {
			paths = append(paths, fmt.Sprintf("/deny/%d", code))
		}
		for _, path := range paths {
			resp := rawExchange(t, b.Addr, "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			got[i] = append(got[i], path+" -> "+resp)
		}
	}
	for j := range got[0] {
		require.Equal(t, got[0][j], got[1][j])
	}
}
