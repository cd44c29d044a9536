package lbd

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
	"halab/lbd/haproxycfg"
)

func TestReplaceValues(t *testing.T) {
	tests := []struct {
		re, repl, in, want string
	}{
		// The article's two rules, applied in turn.
		{`(.*)`, `\1; HttpOnly;`, "JSESSIONID=app01~abc", "JSESSIONID=app01~abc; HttpOnly;"},
		{`(.*)`, `\1; Secure`, "JSESSIONID=app01~abc; HttpOnly;", "JSESSIONID=app01~abc; HttpOnly;; Secure"},
		// Per comma-separated element; matched ones lose their blanks.
		{`^(b)$`, `B\1`, "a, b,c", "a,Bb,c"},
		{`^a$`, `z`, "a, b,a", "z, b,z"},
		// The whole element becomes the replacement, not just the match.
		{`old`, `new`, "foo-old-bar", "new"},
		{`x(\d)`, `\x41\1\\`, "x7", `A7\`},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, replaceValues(regexp.MustCompile(tc.re), tc.repl, tc.in), "%s on %q", tc.re, tc.in)
	}
}

// TestSubmatchWholeValue checks the shortcut for "(.*)" patterns against
// the regexp it skips.
func TestSubmatchWholeValue(t *testing.T) {
	values := []string{"", "JSESSIONID=app01~abc; HttpOnly;", " padded ", "a,b", "\xff\xfeinvalid", "tab\there", "two\nlines"}
	for _, pat := range []string{`(.*)`, `^(.*)`, `(.*)$`, `^(.*)$`, `(.+)`} {
		re := regexp.MustCompile(pat)
		for _, v := range values {
			assert.Equal(t, re.FindStringSubmatchIndex(v), submatch(re, v, new([4]int)), "%s on %q", pat, v)
		}
	}
}

func TestApplyHeaderRules(t *testing.T) {
	h := Header{{"Host", "a"}, {"X-Rep", "foo-old"}, {"X-Del", "1"}, {"x-del", "2"}, {"X-Set", "old"}}
	tx := &txn{src: netip.MustParseAddrPort("192.0.2.1:5555"), dst: netip.MustParseAddrPort("10.0.0.1:80"),
		fe: &Frontend{Name: "fe"}, req: &Request{Header: h}}
	rules := []*haproxycfg.HTTPRule{
		{Action: "replace-header", Name: "x-rep", Regexp: regexp.MustCompile(`(.*)-old`), Value: `\1-new`},
		{Action: "del-header", Name: "X-DEL"},
		{Action: "set-header", Name: "X-Set", Value: "%[src]:%cp via %f %%"},
		{Action: "add-header", Name: "X-Add", Value: "%[req.hdr(host)]"},
	}
	for _, r := range rules {
		applyHeaderRule(r, &h, tx)
	}
	assert.Equal(t, Header{{"Host", "a"}, {"X-Rep", "foo-new"}, {"X-Set", "192.0.2.1:5555 via fe %"}, {"X-Add", "a"}}, h)
}

func TestACLs(t *testing.T) {
	parse := func(line string) *haproxycfg.Cond {
		cfg, err := haproxycfg.Parse([]haproxycfg.Source{{Name: "t", Data: []byte(
			"frontend f\nbind :1\nacl host hdr(host) -i Example.COM\nacl static path_beg /static /img\n" +
				"acl lan src 10.0.0.0/8\nacl dom hdr_dom(host) example\nacl post method POST\n" +
				"use_backend b if " + line + "\nbackend b\n")}}, nil)
		require.NoError(t, err)
		return cfg.Proxies[0].UseBackends[0].Cond
	}
	tx := func(src, method, uri string, hdrs ...string) *txn {
		var h Header
		for i := 0; i+1 < len(hdrs); i += 2 {
			h.Add(hdrs[i], hdrs[i+1])
		}
		return &txn{src: netip.MustParseAddrPort(src), req: &Request{Method: method, URI: uri, Header: h}}
	}
	tests := []struct {
		cond string
		tx   *txn
		want bool
	}{
		{"host", tx("1.2.3.4:1", "GET", "/", "Host", "example.com"), true},
		{"host", tx("1.2.3.4:1", "GET", "/", "Host", "other.com"), false},
		{"static", tx("1.2.3.4:1", "GET", "/img/x.png?q"), true},
		{"!static", tx("1.2.3.4:1", "GET", "/img/x.png"), false},
		{"lan", tx("10.1.2.3:1", "GET", "/"), true},
		{"lan", tx("[::ffff:10.1.2.3]:1", "GET", "/"), true},
		{"lan static", tx("10.1.2.3:1", "GET", "/"), false},
		{"lan || static", tx("1.1.1.1:1", "GET", "/static/a"), true},
		{"dom", tx("1.1.1.1:1", "GET", "/", "Host", "www.example.org"), true},
		{"{ path /metrics }", tx("1.1.1.1:1", "GET", "/metrics"), true},
		{"{ path /metrics }", tx("1.1.1.1:1", "GET", "/metrics/x"), false},
		{"post or { path_end .php }", tx("1.1.1.1:1", "GET", "/index.php"), true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.tx.evalCond(parse(tc.cond)), tc.cond)
	}
	unless := parse("lan")
	unless.Unless = true
	assert.False(t, tx("10.0.0.1:1", "GET", "/").evalCond(unless))
}

func testBackend(cookie string, servers ...string) *Backend {
	cfg, err := haproxycfg.Parse([]haproxycfg.Source{{Name: "t", Data: []byte(
		"defaults\nmode http\nbackend be\n" + cookie + "\n" + strings.Join(servers, "\n") + "\n")}}, nil)
	if err != nil {
		panic(err)
	}
	in := &Instance{Cfg: cfg}
	return newBackend(in, cfg.Proxies[0])
}

func TestCookiePersistence(t *testing.T) {
	prefix := testBackend("cookie JSESSIONID prefix nocache", "server a 1.1.1.1:80 cookie app01", "server b 1.1.1.2:80 cookie app02")
	req := &Request{Header: Header{{"Cookie", "x=1; JSESSIONID=app02~v42; y=2"}}}
	p := prefix.requestCookie(req)
	require.NotNil(t, p.srv)
	assert.Equal(t, "b", p.srv.Name)
	assert.Equal(t, "x=1; JSESSIONID=v42; y=2", req.Header[0].Value)
	h := Header{{"Set-Cookie", "JSESSIONID=v43; Path=/"}, {"Set-Cookie", "other=1"}}
	prefix.serverSetCookies(&h, prefix.Servers[0])
	assert.Equal(t, "JSESSIONID=app01~v43; Path=/", h[0].Value)
	assert.Equal(t, "other=1", h[1].Value)

	insert := testBackend("cookie SRV insert indirect nocache httponly secure domain .x.org", "server a 1.1.1.1:80 cookie s1")
	req = &Request{Header: Header{{"Cookie", "SRV=s1"}}}
	p = insert.requestCookie(req)
	assert.Equal(t, insert.Servers[0], p.srv)
	assert.Empty(t, req.Header, "indirect removes the cookie and the emptied header")
	h = nil
	insert.insertCookie(&h, insert.Servers[0], p, 200)
	assert.Empty(t, h, "a client holding a valid cookie gets none")
	h = Header{{"Cache-Control", "max-age=60"}}
	insert.insertCookie(&h, insert.Servers[0], persistence{}, 200)
	assert.Equal(t, Header{{"Cache-Control", "max-age=60"}, {"set-cookie", "SRV=s1; path=/; domain=.x.org; HttpOnly; Secure"}, {"cache-control", "private"}}, h)

	rewrite := testBackend("cookie JSESSIONID rewrite", "server a 1.1.1.1:80 cookie s1")
	h = Header{{"Set-Cookie", "JSESSIONID=abc; Path=/"}}
	rewrite.serverSetCookies(&h, rewrite.Servers[0])
	assert.Equal(t, "JSESSIONID=s1; Path=/", h[0].Value)

	assert.False(t, cacheable(Header{{"Cache-Control", "public"}}, 200))
	assert.False(t, cacheable(Header{{"Cache-Control", "max-age=5, private"}}, 200))
	assert.False(t, cacheable(Header{{"Expires", "x"}}, 500))
	assert.True(t, cacheable(Header{{"Expires", "x"}}, 404))
}

// TestRequestCookieEdits checks how the persistence cookie leaves the
// Cookie headers on the way to the server: "prefix" strips "SRV~" from
// the first cookie of that name, "insert indirect" removes it (and a
// header it leaves empty), other cookies stay as they came.
func TestRequestCookieEdits(t *testing.T) {
	prefix := testBackend("cookie JSESSIONID prefix nocache", "server a 1.1.1.1:80 cookie app01", "server b 1.1.1.2:80 cookie app02")
	insert := testBackend("cookie SRV insert indirect nocache", "server a 1.1.1.1:80 cookie s1")
	tests := []struct {
		name   string
		be     *Backend
		in     Header
		want   Header
		server string // "" for none
		found  bool
	}{
		{"prefix, between others", prefix, Header{{"Cookie", "x=1; JSESSIONID=app02~v42; y=2"}},
			Header{{"Cookie", "x=1; JSESSIONID=v42; y=2"}}, "b", true},
		{"prefix, the first of two counts", prefix, Header{{"Cookie", " JSESSIONID=app01~a;JSESSIONID=app02~b"}},
			Header{{"Cookie", "JSESSIONID=a;JSESSIONID=app02~b"}}, "a", true},
		{"prefix without a server part", prefix, Header{{"Cookie", "JSESSIONID=v1"}},
			Header{{"Cookie", "JSESSIONID=v1"}}, "", true},
		{"prefix naming no server", prefix, Header{{"Cookie", "JSESSIONID=app09~v1"}},
			Header{{"Cookie", "JSESSIONID=v1"}}, "", true},
		{"prefix, in a second header", prefix, Header{{"Cookie", "x=1"}, {"Accept", "*/*"}, {"cookie", "JSESSIONID=app01~z"}},
			Header{{"Cookie", "x=1"}, {"Accept", "*/*"}, {"cookie", "JSESSIONID=z"}}, "a", true},
		{"no cookie of that name", prefix, Header{{"Cookie", "JSESSIONIDX=app01~z; y"}},
			Header{{"Cookie", "JSESSIONIDX=app01~z; y"}}, "", false},
		{"indirect, alone: the header goes", insert, Header{{"Cookie", "SRV=s1"}, {"Host", "h"}},
			Header{{"Host", "h"}}, "a", true},
		{"indirect, first", insert, Header{{"Cookie", "SRV=s1; c=d"}},
			Header{{"Cookie", "c=d"}}, "a", true},
		{"indirect, between others", insert, Header{{"Cookie", "a=b; SRV=s1; c=d"}},
			Header{{"Cookie", "a=b; c=d"}}, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Header: tt.in}
			p := tt.be.requestCookie(req)
			assert.Equal(t, tt.want, req.Header)
			assert.Equal(t, tt.found, p.found)
			if tt.server == "" {
				assert.Nil(t, p.srv)
			} else if assert.NotNil(t, p.srv) {
				assert.Equal(t, tt.server, p.srv.Name)
			}
		})
	}
}

func TestEqualFoldASCII(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Host", "host", true},
		{"CONTENT-LENGTH", "Content-Length", true},
		{"", "", true},
		{"Host", "Hosts", false},
		{"Hoſt", "Host", false}, // Unicode folds ſ to s, HTTP does not
		{"@", "`", false},       // 0x40 and 0x60 are no letters
		{"x-a[", "X-A{", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, equalFoldASCII(tt.a, tt.b), "%q %q", tt.a, tt.b)
	}
}

func TestHTTP1Framing(t *testing.T) {
	raw := "POST /a?b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(raw))
	req, err := ReadRequest(br)
	require.NoError(t, err)
	assert.Equal(t, "/a", req.Path())
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(body))
	next, err := ReadRequest(br)
	require.NoError(t, err)
	assert.Equal(t, "/next", next.URI)

	for _, bad := range []string{"GET /\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", "GET / HTTP/1.1\r\n folded\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"} {
		_, err := ReadRequest(bufio.NewReader(strings.NewReader(bad)))
		assert.Error(t, err, bad)
	}
	resp, err := ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")), "HEAD")
	require.NoError(t, err)
	assert.Equal(t, int64(0), resp.length)
	resp, err = ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.0 200 OK\r\n\r\nuntil close")), "GET")
	require.NoError(t, err)
	assert.True(t, resp.toClose)

	h := Header{{"Connection", "keep-alive, X-Foo"}, {"connection", "close"}, {"A", "b"}}
	stripConnTokens(&h)
	assert.Equal(t, Header{{"Connection", "X-Foo"}, {"A", "b"}}, h)
}

// TestStatsListen serves the statistics from a "listen" section with no
// servers, as haproxy setups commonly do, with basic authentication.
func TestStatsListen(t *testing.T) {
	app := startApp(t, "app01")
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	stats := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := diffDefaults + "frontend fe\nbind " + listen + "\ndefault_backend be\nbackend be\nserver s1 " + app.Addr + "\n" +
		"listen stats\nbind " + stats + "\nstats enable\nstats uri /\nstats auth admin:secret\n"
	_, in := startLBD(t, cfg, listen)
	_ = in
	get(t, listen, "/")
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + stats + "/;csv")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	req, _ := http.NewRequest("GET", "http://"+stats+"/;csv", nil)
	req.SetBasicAuth("admin", "secret")
	resp, err = c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(body), "be,s1,0,0,0,1,,1,")
	req, _ = http.NewRequest("GET", "http://"+stats+"/", nil)
	req.SetBasicAuth("admin", "secret")
	resp, err = c.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), "<td>s1</td>")
}

func TestHAProxyHandler(t *testing.T) {
	var b strings.Builder
	log := slog.New(NewHAProxyHandler(&b, slog.LevelInfo))
	log.Warn("Server be/s1 is DOWN")
	log.Error("backend 'be' has no server available!")
	log.Debug("hidden")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^\[WARNING\]  \(\d+\) : Server be/s1 is DOWN$`, lines[0])
	assert.Regexp(t, `^\[ALERT\]    \(\d+\) : backend 'be' has no server available!$`, lines[1])
}

// TestTCPIdleTimeout: a TCP session idle for "timeout client" is closed,
// but one where only the server talks stays open.
func TestTCPIdleTimeout(t *testing.T) {
	ln := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		// Talk every 100ms for 1s, then go quiet.
		for i := 0; i < 10; i++ {
			fmt.Fprintf(c, "tick %d\n", i)
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(5 * time.Second)
	})
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := "defaults\nmode tcp\ntimeout connect 1s\ntimeout client 300ms\ntimeout server 300ms\n" +
		"listen l\nbind " + listen + "\nserver s " + ln.Addr().String() + "\n"
	startLBD(t, cfg, listen)
	c, err := net.Dial("tcp", listen)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	all, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, 10, strings.Count(string(all), "tick"))
	el := time.Since(start)
	assert.Greater(t, el, time.Second)
	assert.Less(t, el, 3*time.Second, "the quiet session must end after the idle timeout")
}

// TestTimeoutsAreInactivity: a response streaming for longer than
// "timeout server" (and "timeout client"), but never idle that long, goes
// through whole, as with haproxy.
func TestTimeoutsAreInactivity(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 8; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := "defaults\nmode http\ntimeout connect 1s\ntimeout client 500ms\ntimeout server 500ms\n" +
		"frontend fe\nbind " + listen + "\ndefault_backend be\nbackend be\nserver s " + ln.Addr().String() + "\n"
	startLBD(t, cfg, listen)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + listen + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, 8, strings.Count(string(body), "chunk"))
}

// deadlineConn records the read deadlines set on it.
type deadlineConn struct {
	net.Conn
	set []time.Time
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// TestReadTimeout checks when the client's read deadline is moved: a
// repeated timeout only as renew.Due paces it, a different one or a
// stopping instance at once, no timeout as a cleared deadline.
func TestReadTimeout(t *testing.T) {
	tests := []struct {
		name     string
		timeouts []time.Duration
		stopping bool
		want     int // deadlines set
	}{
		{"same timeout thrice", []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second}, false, 1},
		{"keep-alive then client", []time.Duration{time.Second, 30 * time.Second, 30 * time.Second}, false, 2},
		{"stopping", []time.Duration{30 * time.Second, 30 * time.Second}, true, 2},
		{"none", []time.Duration{0, 0}, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := &deadlineConn{}
			in := &Instance{}
			in.stopping.Store(tc.stopping)
			c := &clientConn{fe: &Frontend{in: in}, conn: conn, rd: readPacer{conn: conn}}
			for _, d := range tc.timeouts {
				c.readTimeout(d)
			}
			require.Len(t, conn.set, tc.want)
			last := conn.set[len(conn.set)-1]
			if d := tc.timeouts[len(tc.timeouts)-1]; d == 0 {
				assert.True(t, last.IsZero())
			} else {
				assert.WithinDuration(t, time.Now().Add(d), last, time.Second)
			}
		})
	}
}

// fdKeepAlive reads SO_KEEPALIVE of a socket.
func fdKeepAlive(t *testing.T, fd int) bool {
	t.Helper()
	v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	require.NoError(t, err)
	return v != 0
}

// TestTCPKeepAlive checks that connections on either side carry TCP
// keep-alive probes only when a tcpka option asks, as with HAProxy (the
// net package would turn them on by default).
func TestTCPKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		option           string
		wantCli, wantSrv bool
	}{
		{"", false, false},
		{"option clitcpka", true, false},
		{"option srvtcpka", false, true},
	} {
		t.Run(cmp.Or(tc.option, "no option"), func(t *testing.T) {
			app := startApp(t, "app01")
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			_, in := startLBD(t, "defaults\nmode http\ntimeout client 5s\ntimeout server 5s\ntimeout connect 5s\n"+
				"listen l\nbind "+addr+"\n"+tc.option+"\nserver app01 "+app.Addr+"\n", addr)
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
			_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)

			// the event loop's sockets: the client's, the idle server one
			require.NotNil(t, in.loop)
			var cli, srv []int
			require.Eventually(t, func() bool {
				cli, srv = nil, nil
				in.loop.lp.Do(func() {
					for lc := range in.loop.clients {
						cli = append(cli, lc.FD)
					}
					for _, p := range in.loop.pools {
						p.each(func(sc *loopServer) { srv = append(srv, sc.FD) })
					}
				})
				return len(cli) == 1 && len(srv) == 1
			}, 2*time.Second, 10*time.Millisecond)
			assert.Equal(t, tc.wantCli, fdKeepAlive(t, cli[0]), "client side")
			assert.Equal(t, tc.wantSrv, fdKeepAlive(t, srv[0]), "server side")
		})
	}
}

// TestByteCounters: bytes_in and bytes_out count each request and
// response once, head and body, as they crossed the wire.
func TestByteCounters(t *testing.T) {
	var mu sync.Mutex
	var atServer int
	app := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			n, err := rawHead(br)
			if err != nil {
				return
			}
			mu.Lock()
			atServer += n
			mu.Unlock()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		}
	})
	listen, in := startOneServerLBD(t, app.Addr().String(), "")
	c := dialLBD(t, listen)
	br := bufio.NewReader(c)
	var atClient int
	for range 3 {
		_, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		n, err := rawHead(br)
		require.NoError(t, err)
		body := make([]byte, 5)
		_, err = io.ReadFull(br, body)
		require.NoError(t, err)
		atClient += n + len(body)
	}
	fe, be := in.Frontends[0], in.Backend("be")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, uint64(atServer), fe.bytesIn.Load())
	assert.Equal(t, uint64(atServer), be.Servers[0].bytesIn.Load())
	assert.Equal(t, uint64(atClient), fe.bytesOut.Load())
	assert.Equal(t, uint64(atClient), be.bytesOut.Load())
}

// rawHead reads a message head and returns its length in bytes.
func rawHead(br *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return n, err
		}
		n += len(line)
		if line == "\r\n" {
			return n, nil
		}
	}
}
