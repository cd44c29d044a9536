package proxyd

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"halab/proxyd/config"
)

const reloadConf = `
daemon off;
error_log {{DIR}}/error.log;
events {}
http {
	access_log {{ACCESS}};
	server {
		listen {{LISTEN}};
		location = /v { return 200 "{{VERSION}}"; }
		location / { proxy_pass http://{{APP}}; }
	}
}
`

func loadConf(t *testing.T, dir string, vars map[string]string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(path, []byte(render(reloadConf, vars)), 0o644))
	cfg, err := config.Load(path, config.Options{Prefix: dir + "/"})
	require.NoError(t, err)
	return cfg
}

// startReloadConf starts proxyd on reloadConf in a directory of its own,
// in front of one test backend, at version v1, with access as the
// access_log ("" for access.log in the directory). It returns the server
// and the template's values (DIR is the directory), to reload with.
func startReloadConf(t *testing.T, access string) (*Server, map[string]string) {
	t.Helper()
	app := startBackend(t, "app", "127.0.0.1:0")
	dir := t.TempDir()
	if access == "" {
		access = filepath.Join(dir, "access.log")
	}
	vars := map[string]string{"DIR": dir, "LISTEN": freePort(t, "127.0.0.1"), "APP": app.addr(),
		"VERSION": "v1", "ACCESS": access}
	srv, err := New(loadConf(t, dir, vars), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return srv, vars
}

func httpGet(c *http.Client, url string) (int, string, error) {
	res, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestReloadKeepsRequestsInFlight reloads while a proxied request is in
// flight: it completes, new requests see the new configuration, idle
// keep-alive connections of the old one are closed, and a configuration
// that cannot start leaves the running one in place.
func TestReloadKeepsRequestsInFlight(t *testing.T) {
	srv, vars := startReloadConf(t, "")
	dir := vars["DIR"]
	defer srv.Close()
	base := "http://" + vars["LISTEN"]
	client := &http.Client{Timeout: 5 * time.Second}

	st, body, err := httpGet(client, base+"/v")
	require.NoError(t, err)
	require.Equal(t, "v1", body, st)

	slow := make(chan string, 1)
	go func() {
		_, b, err := httpGet(&http.Client{Timeout: 5 * time.Second}, base+"/x/pause")
		if err != nil {
			b = err.Error()
		}
		slow <- b
	}()
	time.Sleep(200 * time.Millisecond)
	vars["VERSION"] = "v2"
	require.NoError(t, srv.Reload(loadConf(t, dir, vars)))

	st, body, err = httpGet(&http.Client{Timeout: 5 * time.Second}, base+"/v")
	require.NoError(t, err)
	assert.Equal(t, "v2", body, st)
	select {
	case b := <-slow:
		assert.True(t, strings.HasPrefix(b, "app GET /x/pause"), b)
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request lost")
	}

	// the kept-alive client connection from before was closed by the
	// reload; the client transparently reconnects and sees v2
	st, body, err = httpGet(client, base+"/v")
	require.NoError(t, err)
	assert.Equal(t, "v2", body, st)

	// an access log that cannot be opened fails the reload; v2 keeps running
	vars["VERSION"] = "v3"
	vars["ACCESS"] = filepath.Join(dir, "missing-dir", "access.log")
	err = srv.Reload(loadConf(t, dir, vars))
	require.Error(t, err)
	_, body, err = httpGet(client, base+"/v")
	require.NoError(t, err)
	assert.Equal(t, "v2", body)
}

func TestGracefulShutdownFinishesRequests(t *testing.T) {
	srv, vars := startReloadConf(t, "off")
	slow := make(chan string, 1)
	go func() {
		_, b, err := httpGet(&http.Client{Timeout: 5 * time.Second}, "http://"+vars["LISTEN"]+"/x/pause")
		if err != nil {
			b = err.Error()
		}
		slow <- b
	}()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.True(t, strings.HasPrefix(<-slow, "app GET /x/pause"))
	_, _, err := httpGet(&http.Client{Timeout: time.Second}, "http://"+vars["LISTEN"]+"/v")
	assert.Error(t, err, "listener closed")
}

func TestReopenLogs(t *testing.T) {
	srv, vars := startReloadConf(t, "")
	access := vars["ACCESS"]
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	_, _, err := httpGet(client, "http://"+vars["LISTEN"]+"/v")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cur, _ := os.ReadFile(access)
		return strings.Contains(string(cur), "GET /v HTTP/1.1")
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, os.Rename(access, access+".1"))
	require.NoError(t, srv.ReopenLogs())
	_, _, err = httpGet(client, "http://"+vars["LISTEN"]+"/v?after")
	require.NoError(t, err)
	// the log line is written just after the response, as in nginx
	require.Eventually(t, func() bool {
		cur, _ := os.ReadFile(access)
		return strings.Contains(string(cur), "GET /v?after HTTP/1.1")
	}, 5*time.Second, 10*time.Millisecond)
	old, err := os.ReadFile(access + ".1")
	require.NoError(t, err)
	cur, err := os.ReadFile(access)
	require.NoError(t, err)
	assert.Contains(t, string(old), "GET /v HTTP/1.1")
	assert.Contains(t, string(cur), "GET /v?after HTTP/1.1")
	assert.NotContains(t, string(cur), "GET /v HTTP/1.1")
}

func TestUpstreamKeepalive(t *testing.T) {
	app := startBackend(t, "app", "127.0.0.1:0")
	r := startProxyd(t, `
events {}
http {
	access_log off;
	upstream ka { server {{APP}}; keepalive 2; }
	server {
		listen {{LISTEN}};
		location /ka/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://ka; }
		location /close/ { proxy_pass http://ka; }
	}
}`, map[string]string{"APP": app.addr()})
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 5; i++ {
		st, _, err := httpGet(client, "http://"+r.addr+"/ka/x")
		require.NoError(t, err)
		require.Equal(t, 200, st)
	}
	app.mu.Lock()
	assert.Equal(t, 1, app.conns, "one upstream connection reused")
	app.mu.Unlock()
	for i := 0; i < 3; i++ {
		_, _, err := httpGet(client, "http://"+r.addr+"/close/x")
		require.NoError(t, err)
	}
	app.mu.Lock()
	// the first takes the idle cached connection (as nginx's keepalive
	// module does for any request to the upstream) and closes it after
	assert.Equal(t, 3, app.conns, "Connection: close upstream means a connection per request")
	app.mu.Unlock()
}

func TestWebSocketIdleTimeout(t *testing.T) {
	app := startBackend(t, "app", "127.0.0.1:0")
	r := startProxyd(t, `
events {}
http {
	access_log off;
	server {
		listen {{LISTEN}};
		location / {
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_read_timeout 300ms;
			proxy_pass http://{{APP}};
		}
	}
}`, map[string]string{"APP": app.addr()})
	c, err := net.DialTimeout("tcp", r.addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	res, err := readResponseHead(br, "GET")
	require.NoError(t, err)
	require.Equal(t, 101, res.status)
	_, err = io.WriteString(c, "ping")
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(br, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	// silence: the tunnel closes after proxy_read_timeout
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestDualStackListen(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback")
	}
	_ = l.Close()
	r := startProxyd(t, `
events {}
http {
	access_log off;
	server { listen {{LISTEN}}; listen [::1]:{{LPORT}}; location / { return 200 "$server_addr\n"; } }
}`, nil)
	port := r.addr[strings.LastIndex(r.addr, ":")+1:]
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		_, body, err := httpGet(&http.Client{Timeout: 2 * time.Second}, "http://"+host+":"+port+"/")
		require.NoError(t, err, host)
		assert.Equal(t, strings.Trim(host, "[]")+"\n", body)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	app := startBackend(t, "app", "127.0.0.1:0")
	before := goruntime.NumGoroutine()
	dir := t.TempDir()
	vars := map[string]string{"DIR": dir, "LISTEN": freePort(t, "127.0.0.1"), "APP": app.addr(), "VERSION": "v1", "ACCESS": "off"}
	srv, err := New(loadConf(t, dir, vars), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	// keep-alive clients, a request in flight, an idle connection
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 20; i++ {
		_, _, err := httpGet(client, "http://"+vars["LISTEN"]+"/x")
		require.NoError(t, err)
	}
	idle, err := net.Dial("tcp", vars["LISTEN"])
	require.NoError(t, err)
	defer idle.Close()
	go func() { _, _, _ = httpGet(&http.Client{Timeout: 5 * time.Second}, "http://"+vars["LISTEN"]+"/x/pause") }()
	time.Sleep(100 * time.Millisecond)
	srv.Close()
	client.CloseIdleConnections()
	require.Eventually(t, func() bool { return goruntime.NumGoroutine() <= before+2 }, 5*time.Second, 20*time.Millisecond,
		"goroutines: before %d, now %d", before, goruntime.NumGoroutine())
}

func TestKeepaliveRequests(t *testing.T) {
	r := startProxyd(t, `
events {}
http {
	access_log off;
	keepalive_requests 3;
	server { listen {{LISTEN}}; location / { return 200 "ok\n"; } }
}`, nil)
	raw := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	res := exchangeRaw(r.addr, "127.0.0.1", []string{raw, raw, raw, raw}, []string{"GET", "GET", "GET", "GET"})
	require.Len(t, res, 4)
	assert.Contains(t, res[1].String(), "Connection: keep-alive")
	assert.Contains(t, res[2].String(), "Connection: close")
	assert.NotEmpty(t, res[3].err, "the connection closed after the third request")
}

// TestAwaitRequestReleasesBuffers checks the wait between keep-alive
// requests: with nothing buffered the pooled reader and writer go back
// and the next request, short or longer than the idle buffer, arrives
// whole; a pipelined request keeps the reader that holds it.
func TestAwaitRequestReleasesBuffers(t *testing.T) {
	long := "GET /long HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 3*idleBufferSize) + "\r\n\r\n"
	short := "GET /short HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name  string
		sends []string // written by the client before each awaitRequest
		uris  []string
	}{
		{"short", []string{short}, []string{"/short"}},
		{"longer than the idle buffer", []string{long}, []string{"/long"}},
		{"one after another", []string{short, long}, []string{"/short", "/long"}},
		{"pipelined", []string{short + long, ""}, []string{"/short", "/long"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			t.Cleanup(func() { server.Close(); client.Close() })
			c := &clientConn{nc: server, dw: deadlineWriter{c: server}, in: &pendingReader{nc: server}}
			for i, uri := range tc.uris {
				if tc.sends[i] != "" {
					go func(s string) { _, _ = io.WriteString(client, s) }(tc.sends[i])
				}
				before, pipelined := c.br, c.br != nil && c.br.Buffered() > 0
				require.NoError(t, c.awaitRequest())
				require.NotNil(t, c.br)
				require.NotNil(t, c.bw)
				if pipelined {
					assert.Same(t, before, c.br, "the reader holding the next request stays")
				}
				req, err := readRequest(c.br)
				require.NoError(t, err)
				assert.Equal(t, uri, req.unparsedURI)
			}
			c.releaseBuffers()
			assert.Nil(t, c.br)
			assert.Nil(t, c.bw)
		})
	}
}

// TestReloadServesNewConnections connects without sending a request yet,
// reloads, then sends one: as nginx's old workers do, the connection gets
// its answer under the configuration it was accepted with, then closes. A
// kept-alive connection waiting at the reload closes at once. On both
// paths (event loops and goroutines).
func TestReloadServesNewConnections(t *testing.T) {
	for _, loops := range []string{"", "0"} {
		t.Run("PROXYD_EVENT_LOOP="+loops, func(t *testing.T) {
			t.Setenv("PROXYD_EVENT_LOOP", loops)
			srv, vars := startReloadConf(t, "")
			dir := vars["DIR"]
			t.Cleanup(srv.Close)

			kept := ltDial(t, vars["LISTEN"])
			r := kept.roundTrip("GET /v HTTP/1.1\r\nHost: x\r\n\r\n")
			require.Equal(t, 200, r.status)
			fresh := ltDial(t, vars["LISTEN"])
			time.Sleep(100 * time.Millisecond) // (accepted before the reload)

			vars["VERSION"] = "v2"
			require.NoError(t, srv.Reload(loadConf(t, dir, vars)))
			kept.expectEOF()

			r = fresh.roundTrip("GET /v HTTP/1.1\r\nHost: x\r\n\r\n")
			assert.Equal(t, 200, r.status)
			assert.Equal(t, "v1", string(r.body), "the configuration it was accepted with")
			fresh.expectEOF()
		})
	}
}

// TestListenersPlainTCP checks that proxyd listens with plain TCP, as
// nginx does, and not with the MPTCP Go opens by default.
func TestListenersPlainTCP(t *testing.T) {
	srv, _ := startReloadConf(t, "")
	t.Cleanup(srv.Close)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	require.NotEmpty(t, srv.listeners)
	for a, l := range srv.listeners {
		rc, err := l.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		var proto int
		var serr error
		require.NoError(t, rc.Control(func(fd uintptr) { proto, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }))
		require.NoError(t, serr)
		assert.Equal(t, unix.IPPROTO_TCP, proto, "%s", a)
	}
}

// TestListenersSmartAccept checks the acknowledgement of requests: the
// event loops accept with quick ACKs off (the request's ACK leaves with
// the response) and turn them back on when a head comes in pieces; the
// goroutine path keeps the kernel's default.
func TestListenersSmartAccept(t *testing.T) {
	listenerQuickAck := func(t *testing.T, srv *Server) int {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		require.Len(t, srv.listeners, 1)
		for _, l := range srv.listeners {
			rc, err := l.(syscall.Conn).SyscallConn()
			require.NoError(t, err)
			v, serr := -1, error(nil)
			require.NoError(t, rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK) }))
			require.NoError(t, serr)
			return v
		}
		return -1
	}
	t.Run("goroutines", func(t *testing.T) {
		t.Setenv("PROXYD_EVENT_LOOP", "0")
		srv, _ := startReloadConf(t, "")
		t.Cleanup(srv.Close)
		assert.Equal(t, 1, listenerQuickAck(t, srv))
	})
	t.Run("loop", func(t *testing.T) {
		srv, vars := startReloadConf(t, "")
		t.Cleanup(srv.Close)
		require.Len(t, srv.loops, 1)
		assert.Equal(t, 0, listenerQuickAck(t, srv))

		c, err := net.Dial("tcp", vars["LISTEN"])
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		el := srv.loops[0]
		clientQuickAck := func() int {
			v := -1
			el.lp.Do(func() {
				for lc := range el.clients {
					v, _ = unix.GetsockoptInt(lc.FD, unix.IPPROTO_TCP, unix.TCP_QUICKACK)
				}
			})
			return v
		}
		var v int
		require.Eventually(t, func() bool { v = clientQuickAck(); return v != -1 }, 2*time.Second, 10*time.Millisecond)
		assert.Equal(t, 0, v, "accepted: the request's ACK waits for the response")
		_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: a"))
		require.NoError(t, err)
		// read as soon as the loop has the piece: before the kernel's
		// delayed-ACK timer (40 ms) would turn quick ACKs on by itself
		v = -1
		require.Eventually(t, func() bool {
			el.lp.Do(func() {
				for lc := range el.clients {
					if len(lc.In.Data()) > 0 {
						v, _ = unix.GetsockoptInt(lc.FD, unix.IPPROTO_TCP, unix.TCP_QUICKACK)
					}
				}
			})
			return v != -1
		}, 2*time.Second, time.Millisecond)
		assert.Equal(t, 1, v, "a head in pieces: quick ACKs, so that the client sends the rest")
	})
}
