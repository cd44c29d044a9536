package lbd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
	"halab/lbd/haproxycfg"
)

// rawBackend answers by path with the raw responses the event loop must
// relay: /chunked, /close (until close), /continue (an interim
// 100 first), /big (1 MiB), /huge (8 MiB), /silent (never), anything else a short
// Content-Length answer naming the method, path and body length.
func rawBackend(t *testing.T) string {
	big := strings.Repeat("0123456789abcdef", 1<<16)
	ln := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			switch req.URL.Path {
			case "/chunked":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n")
			case "/close":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
				return
			case "/continue":
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			case "/big":
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
			case "/huge":
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 8*len(big))
				for range 8 {
					io.WriteString(c, big)
				}
			case "/silent":
				time.Sleep(2 * time.Second)
				return
			default:
				msg := fmt.Sprintf("%s %s %d", req.Method, req.URL.Path, len(body))
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
			}
		}
	})
	return ln.Addr().String()
}

// TestLoopShapes runs the shapes of traffic the event loop handles, or
// hands to the goroutine path, over one client connection each.
func TestLoopShapes(t *testing.T) {
	backend := rawBackend(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := "defaults\nmode http\ntimeout connect 1s\ntimeout client 5s\ntimeout server 500ms\ntimeout http-request 300ms\nretries 0\n" +
		"frontend fe\nbind " + listen + "\ndefault_backend be\nbackend be\nserver s1 " + backend + "\n" +
		"backend dead\nserver d1 " + fmt.Sprintf("127.0.0.1:%d", freePort(t)) + "\n" +
		"frontend fe2\nbind " + fmt.Sprintf("127.0.0.1:%d", freePort(t)) + "\ndefault_backend dead\n"
	_, in := startLBD(t, cfg, listen)
	require.NotNil(t, in.loop, "HTTP frontends run on the event loop")

	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" }
	tests := []struct {
		name string
		send []string // written in turn, the next once the previous answers came
		want []string // one expected body per response, in order
		// bytewise: the requests go out a byte at a time
		bytewise bool
	}{
		{name: "pipelined", send: []string{get("/a") + get("/b") + get("/c")}, want: []string{"GET /a 0", "GET /b 0", "GET /c 0"}},
		{name: "head in pieces", send: []string{get("/slow")}, want: []string{"GET /slow 0"}, bytewise: true},
		{name: "body hands over", send: []string{get("/1"), "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde", get("/3")},
			want: []string{"GET /1 0", "POST /2 5", "GET /3 0"}},
		{name: "chunked", send: []string{get("/chunked"), get("/after")}, want: []string{"hello, world!!!", "GET /after 0"}},
		// a body until close closes the client's connection too, as
		// with HAProxy (TestDiffWire)
		{name: "until close", send: []string{get("/close")}, want: []string{"until the end"}},
		{name: "interim", send: []string{get("/continue")}, want: []string{"ok"}},
		{name: "big", send: []string{get("/big")}, want: []string{strings.Repeat("0123456789abcdef", 1<<16)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", listen)
			require.NoError(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			var got []string
			for _, s := range tc.send {
				if tc.bytewise {
					for i := range len(s) {
						_, err := c.Write([]byte{s[i]})
						require.NoError(t, err)
						time.Sleep(time.Millisecond)
					}
				} else {
					_, err := io.WriteString(c, s)
					require.NoError(t, err)
				}
				for n := strings.Count(s, " HTTP/1.1\r\n"); n > 0; n-- {
					resp, err := http.ReadResponse(br, nil)
					require.NoError(t, err)
					if resp.StatusCode == 100 {
						n++
						continue
					}
					body, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					resp.Body.Close()
					assert.Equal(t, 200, resp.StatusCode)
					got = append(got, string(body))
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}

	errors := []struct {
		name   string
		addr   string
		send   string
		status int
	}{
		{"server timeout", listen, get("/silent"), 504},
		{"connection refused", in.Frontends[1].listeners[0].Addr().String(), get("/"), 503},
		{"no request in time", listen, "", 408},
		{"head cut by the timeout", listen, "GET / HTTP/1.1\r\n", 408},
	}
	for _, tc := range errors {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", tc.addr)
			require.NoError(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.WriteString(c, tc.send)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
		})
	}
}

// TestLoopSlowReader: a client reading a large answer slowly gets it
// whole (the loop stops reading the server while the client lags).
func TestLoopSlowReader(t *testing.T) {
	backend := rawBackend(t)
	listen, _ := startOneServerLBD(t, backend, "")
	c := dialLBD(t, listen)
	// (a receive buffer below the loopback MSS would stall the sender)
	c.(*net.TCPConn).SetReadBuffer(128 << 10)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err := io.WriteString(c, "GET /huge HTTP/1.1\r\nHost: h\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	var n int
	buf := make([]byte, 32<<10)
	for {
		m, err := resp.Body.Read(buf)
		n += m
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	assert.Equal(t, 8<<20, n)
}

// TestLoopKeptConnectionClosed: with "http-reuse never" a client keeps its
// server connection between requests; when the server closes it meanwhile
// the loop forgets it at once, and the next request opens a new one.
func TestLoopKeptConnectionClosed(t *testing.T) {
	var conns atomic.Int32
	app := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		conns.Add(1)
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// one request per connection, then the server closes it
	})
	listen, in := startOneServerLBD(t, app.Addr().String(), "http-reuse never\n")
	c := dialLBD(t, listen)
	br := bufio.NewReader(c)
	request := func() {
		t.Helper()
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "ok", string(body))
	}
	request()
	kept := func() (n int) {
		in.loop.lp.Do(func() {
			for lc := range in.loop.clients {
				if lc.sc != nil {
					n++
				}
			}
		})
		return n
	}
	require.Eventually(t, func() bool { return kept() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the closed server connection is forgotten")
	request()
	assert.Equal(t, int32(2), conns.Load())
}

// startOneServerLBD runs lbd with one frontend and a backend of one server
// at addr, with extra backend lines; it returns the frontend's address.
func startOneServerLBD(t *testing.T, addr, extra string) (string, *Instance) {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, in := startLBD(t, diffDefaults+"frontend fe\nbind "+listen+"\ndefault_backend be\nbackend be\n"+extra+"server s1 "+addr+"\n", listen)
	return listen, in
}

// dialLBD connects to addr with a 10 s deadline, closed when t ends.
func dialLBD(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestSingleHost(t *testing.T) {
	for _, tc := range []struct {
		h    Header
		want bool
	}{
		{nil, true},
		{Header{{"Host", "a"}}, true},
		{Header{{"Host", "a"}, {"X", "b"}, {"host", "a"}}, true},
		{Header{{"Host", "a"}, {"HOST", "b"}}, false},
	} {
		assert.Equal(t, tc.want, singleHost(tc.h), "%v", tc.h)
	}
}

// TestLoopEligible: frontends whose servers the loop cannot dial (a host
// name, an IPv6 zone) or in tcp mode stay on goroutines.
func TestLoopEligible(t *testing.T) {
	for _, tc := range []struct {
		server, mode string
		want         bool
	}{
		{"127.0.0.1:80", "http", true},
		{"[::1]:80", "http", true},
		{"localhost:80", "http", false},
		{"[fe80::1%lo]:80", "http", false},
		{"127.0.0.1:80", "tcp", false},
	} {
		cfg, err := haproxycfg.Parse([]haproxycfg.Source{{Name: "t.cfg", Data: []byte(
			"defaults\nmode " + tc.mode + "\nfrontend fe\nbind 127.0.0.1:8080\ndefault_backend be\nbackend be\nserver s1 " + tc.server + "\n")}}, nil)
		require.NoError(t, err, tc.server)
		in, err := New(cfg, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want, in.Frontends[0].loopEligible(), "%s %s", tc.mode, tc.server)
	}
}
