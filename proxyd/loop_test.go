package proxyd

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/evloop"
	"halab/internal/nettest"
	"halab/proxyd/config"
)

// ltConf is the configuration of the event loop tests: two loops sharing
// the listener, locations for each shape the loop serves or hands over,
// short timeouts only where a case waits for one.
const ltConf = `
daemon off;
worker_processes 2;
error_log {{DIR}}/error.log;
events {}
http {
	log_format loop '$remote_addr "$request" $status $body_bytes_sent $request_length $upstream_addr $upstream_status $upstream_connect_time';
	access_log {{DIR}}/access.log loop;
	proxy_connect_timeout 10s;
	proxy_read_timeout 10s;
	upstream dead { server {{REFUSED}} down; }
	upstream pair { server {{REFUSED}}; server {{APP}}; }
	server {
		listen {{LISTEN}};
		location / { proxy_pass http://{{APP}}; }
		location /big/ { proxy_pass http://{{BIG}}; }
		location /refused/ { proxy_pass http://{{REFUSED}}; }
		location /dead/ { proxy_pass http://dead; }
		location /silent/ { proxy_read_timeout 1s; proxy_pass http://{{SILENT}}; }
		location /hole/ { proxy_connect_timeout 1s; proxy_pass http://{{HOLE}}; }
		location /pair/ { proxy_pass http://pair; }
		location /shape/ { proxy_read_timeout 1s; proxy_pass http://{{SHAPES}}; }
		location /kat/ { keepalive_timeout 1s; proxy_pass http://{{APP}}; }
		location /kr/ { keepalive_requests 2; proxy_pass http://{{APP}}; }
		location /ws {
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_pass http://{{APP}};
		}
		location = /ret { return 200 "ret\n"; }
	}
}
`

// ltProxy is a proxyd serving a configuration from its own directory.
type ltProxy struct {
	srv  *Server
	addr string
	dir  string
}

// ltStart starts a proxyd on tpl, with event loops or (loops false) with
// PROXYD_EVENT_LOOP=0, the goroutine per connection.
func ltStart(t *testing.T, tpl string, vars map[string]string, loops bool) *ltProxy {
	t.Helper()
	p := &ltProxy{dir: t.TempDir(), addr: freePort(t, "127.0.0.1")}
	v := map[string]string{"LISTEN": p.addr, "DIR": p.dir}
	for k, x := range vars {
		v[k] = x
	}
	path := filepath.Join(p.dir, "nginx.conf")
	require.NoError(t, os.WriteFile(path, []byte(render(tpl, v)), 0o644))
	cfg, err := config.Load(path, config.Options{Prefix: p.dir + "/"})
	require.NoError(t, err)
	if loops {
		t.Setenv("PROXYD_EVENT_LOOP", "")
	} else {
		t.Setenv("PROXYD_EVENT_LOOP", "0")
	}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	if loops {
		require.NotEmpty(t, srv.loops, "event loops run")
	} else {
		require.Empty(t, srv.loops, "PROXYD_EVENT_LOOP=0: goroutines serve")
	}
	p.srv = srv
	return p
}

// lines returns the lines of a log file of the proxy's directory.
func (p *ltProxy) lines(name string) []string {
	data, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// settle waits until the proxy has no client connection left (their
// log lines are written by then).
func (p *ltProxy) settle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return p.srv.rt.Load().conns.Load() == 1 }, 10*time.Second, 5*time.Millisecond,
		"connections still open")
}

func ltDelta(after, before loopStats) loopStats {
	return loopStats{
		served:             after.served - before.served,
		handedOff:          after.handedOff - before.handedOff,
		responsesHandedOff: after.responsesHandedOff - before.responsesHandedOff,
	}
}

// ltResp is a response as a client saw it.
type ltResp struct {
	status int
	head   string // status line and headers, without Date
	body   []byte
	close  bool // Connection: close
	hdr    map[string]string
}

func (r *ltResp) String() string {
	s := r.head + "\n\n" + string(r.body)
	if len(s) > 4096 {
		s = fmt.Sprintf("%s ... <%d bytes in all, sha256 %x>", s[:200], len(s), sha256.Sum256([]byte(s)))
	}
	return s
}

func ltStrings(rs []*ltResp) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// ltConn is a raw client connection.
type ltConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func ltDial(t *testing.T, addr string) *ltConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &ltConn{t: t, nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
}

func (c *ltConn) send(s string) {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetWriteDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err)
}

// head reads one response head (a 100 Continue too when interim).
func (c *ltConn) head(method string, interim bool) *ltResp {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(15*time.Second)))
	read := readResponseHead
	if interim {
		read = readOneHead
	}
	res, err := read(c.br, method)
	require.NoError(c.t, err)
	require.Nil(c.t, res.http09, "a valid status line")
	r := &ltResp{status: res.status, close: res.connClose, hdr: map[string]string{}}
	lines := []string{fmt.Sprintf("HTTP/1.%d %s", res.minor, res.statusLine)}
	for _, h := range res.headers {
		if strings.EqualFold(h.name, "Date") {
			continue
		}
		lines = append(lines, h.name+": "+h.value)
		r.hdr[strings.ToLower(h.name)] = h.value
	}
	r.head = strings.Join(lines, "\n")
	if !interim || res.status != 100 {
		body, err := io.ReadAll(res.bodyReader(c.br, method))
		require.NoError(c.t, err)
		r.body = body
	}
	return r
}

// response reads the response to a request made with method.
func (c *ltConn) response(method string) *ltResp {
	c.t.Helper()
	return c.head(method, false)
}

// roundTrip sends a request and reads its response.
func (c *ltConn) roundTrip(raw string) *ltResp {
	c.t.Helper()
	c.send(raw)
	return c.response(methodOf(raw))
}

// expectEOF checks that the server closes the connection (within 5 s)
// with nothing more to read.
func (c *ltConn) expectEOF() {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := c.br.Read(make([]byte, 1))
	require.Zero(c.t, n, "no byte after the last response")
	if !errors.Is(err, syscall.ECONNRESET) {
		require.ErrorIs(c.t, err, io.EOF, "the connection closed")
	}
}

// ltGet is a keep-alive GET of uri.
func ltGet(uri string) string { return "GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// ltSeq sends the requests one after the other, each after the previous
// response, on one connection.
func ltSeq(reqs ...string) func(c *ltConn) []*ltResp {
	return func(c *ltConn) []*ltResp {
		var out []*ltResp
		for _, r := range reqs {
			out = append(out, c.roundTrip(r))
		}
		return out
	}
}

// ltPipe writes the requests in one write, then reads the responses.
func ltPipe(reqs ...string) func(c *ltConn) []*ltResp {
	return func(c *ltConn) []*ltResp {
		c.send(strings.Join(reqs, ""))
		var out []*ltResp
		for _, r := range reqs {
			out = append(out, c.response(methodOf(r)))
		}
		return out
	}
}

// ltThenEOF runs talk, then expects the connection to close.
func ltThenEOF(talk func(c *ltConn) []*ltResp) func(c *ltConn) []*ltResp {
	return func(c *ltConn) []*ltResp {
		out := talk(c)
		c.expectEOF()
		return out
	}
}

var (
	ltErrTimeRe = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: \*\d+ `)
	ltMsecsRe   = regexp.MustCompile(`\b\d+\.\d{3}\b`)
)

// ltOutcome is what one conversation on a fresh connection did.
type ltOutcome struct {
	resps  []*ltResp
	delta  loopStats
	errLog []string // new error log lines, time, pid and connection masked
	access []string // new access log lines, times masked
}

// ltRun has the conversation talk on a new connection to p, closes it
// and collects what it logged.
func ltRun(t *testing.T, p *ltProxy, talk func(c *ltConn) []*ltResp) ltOutcome {
	t.Helper()
	p.settle(t)
	errBefore, accBefore := len(p.lines("error.log")), len(p.lines("access.log"))
	before := p.srv.loopStats()
	c := ltDial(t, p.addr)
	var o ltOutcome
	o.resps = talk(c)
	o.delta = ltDelta(p.srv.loopStats(), before)
	_ = c.nc.Close()
	p.settle(t)
	for _, l := range p.lines("error.log")[errBefore:] {
		o.errLog = append(o.errLog, ltErrTimeRe.ReplaceAllString(l, "TIME [$1] PID: *N "))
	}
	for _, l := range p.lines("access.log")[accBefore:] {
		o.access = append(o.access, ltMsecsRe.ReplaceAllString(l, "T"))
	}
	return o
}

// ltBigBody is the body of the big test upstream: 8 MiB with a pattern
// that shows bytes out of place.
var ltBigBody = sync.OnceValue(func() []byte {
	b := make([]byte, 8<<20)
	for i := range b {
		b[i] = byte(i*31 + i>>13)
	}
	return b
})

// ltBigBackend answers every request with ltBigBody and a Content-Length,
// then closes.
func ltBigBackend(t *testing.T) string {
	ln := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(c)
		method := ""
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if method == "" {
				method, _, _ = strings.Cut(l, " ")
			}
			if l == "\r\n" || l == "\n" {
				break
			}
		}
		body := ltBigBody()
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
		if method != "HEAD" {
			_, _ = c.Write(body)
		}
	})
	return ln.Addr().String()
}

// ltSilentBackend accepts connections and reads them, never answering.
func ltSilentBackend(t *testing.T) string {
	ln := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	return ln.Addr().String()
}

// ltShapesBackend answers by the last element of the path:
//
//	continue  a 100 Continue, then a 200 with a body
//	empty     Content-Length: 0
//	split     the head and the body in several writes
//	invalid   a header line without a colon
//	nothing   closes without answering
//	reset     resets the connection without answering
//	trunc     Content-Length: 100, 10 bytes, then closes
//	stall     Content-Length: 100, 10 bytes, then nothing
//	bighead   20 KiB of headers, then a body
func ltShapesBackend(t *testing.T) string {
	ln := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		first, err := br.ReadString('\n')
		if err != nil {
			return
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		f := strings.Fields(first)
		if len(f) < 2 {
			return
		}
		w := func(s string) { _, _ = io.WriteString(c, s) }
		switch f[1][strings.LastIndex(f[1], "/")+1:] {
		case "continue":
			w("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
		case "empty":
			w("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Shape: empty\r\n\r\n")
		case "split":
			for _, part := range []string{"HTTP/1.1 200 OK\r\nContent-Le", "ngth: 12\r\nX-Shape: split\r\n", "\r\nhello", " ", "world\n"} {
				w(part)
				time.Sleep(30 * time.Millisecond)
			}
		case "invalid":
			w("HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 3\r\n\r\nok\n")
		case "nothing":
		case "reset":
			_ = c.(*net.TCPConn).SetLinger(0)
		case "trunc":
			w("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
		case "stall":
			w("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
			_, _ = io.Copy(io.Discard, br)
		case "bighead":
			var h strings.Builder
			h.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n")
			for i := range 40 {
				fmt.Fprintf(&h, "X-Big-%02d: %s\r\n", i, strings.Repeat("b", 500))
			}
			w(h.String() + "\r\nok\n")
		}
	})
	return ln.Addr().String()
}

// ltVars starts the upstreams of ltConf.
func ltVars(t *testing.T, withHole bool) map[string]string {
	app := startBackend(t, "app", "127.0.0.1:0")
	vars := map[string]string{
		"APP":     app.addr(),
		"BIG":     ltBigBackend(t),
		"REFUSED": freePort(t, "127.0.0.1"),
		"SILENT":  ltSilentBackend(t),
		"SHAPES":  ltShapesBackend(t),
		"HOLE":    freePort(t, "127.0.0.1"),
	}
	if withHole {
		vars["HOLE"] = nettest.Blackhole(t).String()
	}
	return vars
}

// ltCase is a conversation on one connection and what it must give.
type ltCase struct {
	name  string
	talk  func(c *ltConn) []*ltResp
	check func(t *testing.T, rs []*ltResp)
	stats loopStats // the loop's counts for the conversation
	// errLog is the text of the one error log line the conversation
	// writes ("": none)
	errLog string
	// access are patterns for the access log lines, in order ("": any)
	access []string
	// gorErrLogDiffers: why the goroutine path's error log line differs
	// (not compared); gorDiffers: why nothing is compared with it
	gorErrLogDiffers, gorDiffers string
}

// ltCheckCase runs tc on the proxy with loops and on the one with
// goroutines and compares: the loop counts, the responses, the error and
// access logs.
func ltCheckCase(t *testing.T, loop, gor *ltProxy, tc ltCase) {
	got := ltRun(t, loop, tc.talk)
	assert.Equal(t, tc.stats, got.delta, "loop counts")
	if tc.check != nil {
		tc.check(t, got.resps)
	}
	if tc.errLog == "" {
		assert.Empty(t, got.errLog, "error log")
	} else if assert.Len(t, got.errLog, 1, "error log") {
		assert.Contains(t, got.errLog[0], "[error] PID: *N "+tc.errLog)
		assert.Contains(t, got.errLog[0], ", client: 127.0.0.1, server: , request: ")
	}
	for i, re := range tc.access {
		if re != "" && assert.Greater(t, len(got.access), i, "access log") {
			assert.Regexp(t, "^"+re+"$", got.access[i])
		}
	}

	if tc.gorDiffers != "" {
		return
	}
	want := ltRun(t, gor, tc.talk)
	assert.Equal(t, loopStats{}, want.delta)
	assert.Equal(t, ltStrings(want.resps), ltStrings(got.resps), "responses as with PROXYD_EVENT_LOOP=0")
	if tc.gorErrLogDiffers == "" {
		assert.Equal(t, want.errLog, got.errLog, "error log as with PROXYD_EVENT_LOOP=0")
	} else {
		assert.Len(t, want.errLog, len(got.errLog), "error log lines as with PROXYD_EVENT_LOOP=0")
	}
	assert.Equal(t, want.access, got.access, "access log as with PROXYD_EVENT_LOOP=0")
}

func ltBody(t *testing.T, r *ltResp, status int, body string) {
	t.Helper()
	assert.Equal(t, status, r.status, r.head)
	assert.Equal(t, body, string(r.body), r.head)
}

// TestLoopServes checks the shapes the event loop serves itself: every
// request counts as served, none handed over, and the client sees what
// the goroutine path gives.
func TestLoopServes(t *testing.T) {
	vars := ltVars(t, true)
	loop := ltStart(t, ltConf, vars, true)
	require.Len(t, loop.srv.loops, 2, "a loop per worker_processes")
	gor := ltStart(t, ltConf, vars, false)
	app, refused, hole := regexp.QuoteMeta(vars["APP"]), regexp.QuoteMeta(vars["REFUSED"]), vars["HOLE"]
	shapes := regexp.QuoteMeta(vars["SHAPES"])
	page502 := string(errorPage(502, true))
	page504 := string(errorPage(504, true))
	cases := []ltCase{
		{
			name: "keep-alive GETs",
			talk: ltSeq(ltGet("/ka/1"), ltGet("/ka/2"), ltGet("/ka/3")),
			check: func(t *testing.T, rs []*ltResp) {
				require.Len(t, rs, 3)
				for i, r := range rs {
					ltBody(t, r, 200, fmt.Sprintf("app GET /ka/%d body=0\n", i+1))
					assert.False(t, r.close)
					assert.Equal(t, "keep-alive", r.hdr["connection"])
				}
			},
			stats: loopStats{served: 3},
			access: []string{
				`127\.0\.0\.1 "GET /ka/1 HTTP/1\.1" 200 21 31 ` + app + ` 200 T`,
				`127\.0\.0\.1 "GET /ka/2 HTTP/1\.1" 200 21 31 ` + app + ` 200 T`,
				`127\.0\.0\.1 "GET /ka/3 HTTP/1\.1" 200 21 31 ` + app + ` 200 T`,
			},
		},
		{
			name: "HTTP/1.0 closes",
			talk: ltThenEOF(ltSeq("GET /old HTTP/1.0\r\n\r\n")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /old body=0\n")
				assert.True(t, rs[0].close, rs[0].head)
			},
			stats:  loopStats{served: 1},
			access: []string{`127\.0\.0\.1 "GET /old HTTP/1\.0" 200 20 21 ` + app + ` 200 T`},
		},
		{
			name: "pipelined in one write",
			talk: ltPipe(ltGet("/p/1"), ltGet("/p/2"), "GET /p/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
			check: func(t *testing.T, rs []*ltResp) {
				require.Len(t, rs, 3)
				for i, r := range rs {
					ltBody(t, r, 200, fmt.Sprintf("app GET /p/%d body=0\n", i+1))
				}
				assert.False(t, rs[1].close)
				assert.True(t, rs[2].close)
			},
			stats: loopStats{served: 3},
		},
		{
			name: "HEAD relays no body",
			talk: ltSeq("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", ltGet("/after-head")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "")
				assert.Equal(t, "19", rs[0].hdr["content-length"], "the upstream's length of the body a GET gets")
				ltBody(t, rs[1], 200, "app GET /after-head body=0\n")
			},
			stats:  loopStats{served: 2},
			access: []string{`127\.0\.0\.1 "HEAD /h HTTP/1\.1" 200 0 29 ` + app + ` 200 T`},
		},
		{
			name: "304 has no body",
			talk: ltSeq(ltGet("/status/304"), ltGet("/after-304")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 304, "")
				ltBody(t, rs[1], 200, "app GET /after-304 body=0\n")
			},
			stats: loopStats{served: 2},
		},
		{
			name: "8 MiB Content-Length response",
			talk: ltSeq(ltGet("/big/x"), ltGet("/after-big")),
			check: func(t *testing.T, rs []*ltResp) {
				assert.Equal(t, 200, rs[0].status)
				assert.Equal(t, len(ltBigBody()), len(rs[0].body))
				assert.Equal(t, sha256.Sum256(ltBigBody()), sha256.Sum256(rs[0].body), "the body arrives intact")
				ltBody(t, rs[1], 200, "app GET /after-big body=0\n")
			},
			stats:  loopStats{served: 2},
			access: []string{`127\.0\.0\.1 "GET /big/x HTTP/1\.1" 200 8388608 32 ` + regexp.QuoteMeta(vars["BIG"]) + ` 200 T`},
		},
		{
			name: "upstream refuses",
			talk: ltSeq(ltGet("/refused/x"), ltGet("/after-refused")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 502, page502)
				ltBody(t, rs[1], 200, "app GET /after-refused body=0\n")
			},
			stats:  loopStats{served: 2},
			errLog: "connect() failed (111: Connection refused) while connecting to upstream",
			access: []string{`127\.0\.0\.1 "GET /refused/x HTTP/1\.1" 502 157 36 ` + refused + ` 502 T`},
		},
		{
			name: "no live upstream",
			talk: ltSeq(ltGet("/dead/x"), ltGet("/after-dead")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 502, page502)
				ltBody(t, rs[1], 200, "app GET /after-dead body=0\n")
			},
			stats:  loopStats{served: 2},
			errLog: "no live upstreams while connecting to upstream",
			access: []string{`127\.0\.0\.1 "GET /dead/x HTTP/1\.1" 502 157 33 dead 502 -`},
		},
		{
			name: "upstream never answers: proxy_read_timeout",
			talk: ltSeq(ltGet("/silent/x"), ltGet("/after-silent")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 504, page504)
				ltBody(t, rs[1], 200, "app GET /after-silent body=0\n")
			},
			stats:  loopStats{served: 2},
			errLog: "upstream timed out (110: Connection timed out) while reading response header from upstream",
			access: []string{`127\.0\.0\.1 "GET /silent/x HTTP/1\.1" 504 167 35 ` + regexp.QuoteMeta(vars["SILENT"]) + ` 504 T`},
		},
		{
			name: "connect never completes: proxy_connect_timeout",
			talk: ltSeq(ltGet("/hole/x"), ltGet("/after-hole")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 504, page504)
				ltBody(t, rs[1], 200, "app GET /after-hole body=0\n")
			},
			stats:  loopStats{served: 2},
			errLog: `upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /hole/x HTTP/1.1", upstream: "http://` + hole + `/hole/x", host: "x"`,
			access: []string{`127\.0\.0\.1 "GET /hole/x HTTP/1\.1" 504 167 33 ` + regexp.QuoteMeta(hole) + ` 504 T`},
		},
		{
			name: "head in pieces",
			talk: func(c *ltConn) []*ltResp {
				for _, part := range []string{"GET /pie", "ces HTTP/1.1\r\n", "Host: x\r", "\n\r\n"} {
					c.send(part)
					time.Sleep(30 * time.Millisecond)
				}
				return []*ltResp{c.response("GET")}
			},
			check: func(t *testing.T, rs []*ltResp) { ltBody(t, rs[0], 200, "app GET /pieces body=0\n") },
			stats: loopStats{served: 1},
		},
		{
			name: "keepalive_timeout closes the idle connection",
			talk: ltThenEOF(ltSeq(ltGet("/kat/x"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /kat/x body=0\n")
				assert.False(t, rs[0].close)
			},
			stats: loopStats{served: 1},
		},
		{
			name: "keepalive_requests",
			talk: ltThenEOF(ltSeq(ltGet("/kr/1"), ltGet("/kr/2"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[1], 200, "app GET /kr/2 body=0\n")
				assert.False(t, rs[0].close)
				assert.True(t, rs[1].close)
			},
			stats: loopStats{served: 2},
		},
		{
			name: "100 Continue before the response",
			talk: ltSeq(ltGet("/shape/continue"), ltGet("/after-continue")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "ok\n")
				ltBody(t, rs[1], 200, "app GET /after-continue body=0\n")
			},
			stats: loopStats{served: 2},
		},
		{
			name: "empty body",
			talk: ltSeq(ltGet("/shape/empty"), ltGet("/after-empty")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "")
				assert.Equal(t, "0", rs[0].hdr["content-length"])
				ltBody(t, rs[1], 200, "app GET /after-empty body=0\n")
			},
			stats: loopStats{served: 2},
		},
		{
			name: "response in pieces",
			talk: ltSeq(ltGet("/shape/split"), ltGet("/after-split")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "hello world\n")
				assert.Equal(t, "split", rs[0].hdr["x-shape"])
				ltBody(t, rs[1], 200, "app GET /after-split body=0\n")
			},
			stats: loopStats{served: 2},
		},
		{
			name:   "invalid response header",
			talk:   ltSeq(ltGet("/shape/invalid")),
			check:  func(t *testing.T, rs []*ltResp) { ltBody(t, rs[0], 502, page502) },
			stats:  loopStats{served: 1},
			errLog: "upstream sent invalid header while reading response header from upstream",
		},
		{
			name:   "upstream closes without a response",
			talk:   ltSeq(ltGet("/shape/nothing")),
			check:  func(t *testing.T, rs []*ltResp) { ltBody(t, rs[0], 502, page502) },
			stats:  loopStats{served: 1},
			errLog: "upstream prematurely closed connection while reading response header from upstream",
		},
		{
			name:   "upstream resets",
			talk:   ltSeq(ltGet("/shape/reset")),
			check:  func(t *testing.T, rs []*ltResp) { ltBody(t, rs[0], 502, page502) },
			stats:  loopStats{served: 1},
			errLog: "recv() failed (104: Connection reset by peer) while reading response header from upstream",
		},
		{
			// a difference DIFFERENCES.md lists: nginx 1.22
			// (proxy_buffer_size 4k|8k) answers 502 with "upstream sent
			// too big header while reading response header from
			// upstream"; the loop answers 502 (its head buffer,
			// evloop.BufSize, is 16 KiB) and logs "upstream sent invalid
			// header"; the goroutine path relays the response (200): it
			// has no limit but 8 KiB a line
			name:       "response head larger than the loop's buffer",
			talk:       ltSeq(ltGet("/shape/bighead"), ltGet("/after-bighead")),
			stats:      loopStats{served: 2},
			gorDiffers: "the goroutine path has no limit on a response head",
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 502, page502)
				ltBody(t, rs[1], 200, "app GET /after-bighead body=0\n")
			},
			errLog: "upstream sent invalid header while reading response header from upstream",
			access: []string{`127\.0\.0\.1 "GET /shape/bighead HTTP/1\.1" 502 157 \d+ ` + shapes + ` 502 T`},
		},
		{
			name: "body cut short by the upstream",
			talk: ltThenEOF(ltSeq(ltGet("/shape/trunc"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "0123456789")
				assert.Equal(t, "100", rs[0].hdr["content-length"])
			},
			stats:  loopStats{served: 1},
			errLog: "upstream prematurely closed connection while reading upstream",
			access: []string{`127\.0\.0\.1 "GET /shape/trunc HTTP/1\.1" 200 10 \d+ ` + shapes + ` 200 T`},
		},
		{
			name:   "body stalls: proxy_read_timeout",
			talk:   ltThenEOF(ltSeq(ltGet("/shape/stall"))),
			check:  func(t *testing.T, rs []*ltResp) { ltBody(t, rs[0], 200, "0123456789") },
			stats:  loopStats{served: 1},
			errLog: "upstream timed out (110: Connection timed out) while reading upstream",
		},
		{
			name: "proxy_next_upstream after a refusal",
			talk: ltSeq(ltGet("/pair/x")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /pair/x body=0\n")
			},
			stats:  loopStats{served: 1},
			errLog: "connect() failed (111: Connection refused) while connecting to upstream",
			access: []string{`127\.0\.0\.1 "GET /pair/x HTTP/1\.1" 200 23 33 ` + refused + `, ` + app + ` 502, 200 T, T`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { ltCheckCase(t, loop, gor, tc) })
	}
}

// TestLoopHandsOff checks the shapes the loop hands to the goroutine
// path, before the request or after the response head: the client sees
// what PROXYD_EVENT_LOOP=0 gives, and a kept-alive connection goes on
// (on the goroutine path) with a further request.
func TestLoopHandsOff(t *testing.T) {
	vars := ltVars(t, false)
	loop := ltStart(t, ltConf, vars, true)
	gor := ltStart(t, ltConf, vars, false)
	after := ltGet("/after")
	// the conversation, then one more request on the same connection
	// that the loop does not see
	followed := func(talk func(c *ltConn) []*ltResp) func(c *ltConn) []*ltResp {
		return func(c *ltConn) []*ltResp {
			rs := talk(c)
			return append(rs, c.roundTrip(after))
		}
	}
	var pad strings.Builder
	for i := range 40 {
		fmt.Fprintf(&pad, "X-Pad-%02d: %s\r\n", i, strings.Repeat("p", 500))
	}
	bigHead := pad.String()
	checkAfter := func(t *testing.T, rs []*ltResp) {
		ltBody(t, rs[len(rs)-1], 200, "app GET /after body=0\n")
	}
	cases := []ltCase{
		{
			name: "POST with a body",
			talk: followed(ltSeq("POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app POST /post body=5\n")
				checkAfter(t, rs)
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "chunked request body",
			talk: followed(ltSeq("POST /chunked-req HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app POST /chunked-req body=8\n")
				checkAfter(t, rs)
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "Expect: 100-continue",
			talk: followed(func(c *ltConn) []*ltResp {
				c.send("POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
				interim := c.head("POST", true)
				c.send("data")
				return []*ltResp{interim, c.response("POST")}
			}),
			check: func(t *testing.T, rs []*ltResp) {
				assert.Equal(t, 100, rs[0].status)
				ltBody(t, rs[1], 200, "app POST /expect body=4\n")
				checkAfter(t, rs)
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "return",
			talk: followed(ltSeq(ltGet("/ret"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "ret\n")
				checkAfter(t, rs)
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "unparsable head",
			talk: ltThenEOF(ltSeq("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 400, string(errorPage(400, true)))
				assert.True(t, rs[0].close)
			},
			stats: loopStats{handedOff: 1},
		},
		{
			// nginx and the goroutine path answer a bad line as it comes
			name: "invalid request line before the end of the head",
			talk: ltThenEOF(ltSeq("FOO BAR\r\n")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 400, string(errorPage(400, true)))
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "invalid header line before the end of the head",
			talk: ltThenEOF(ltSeq("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 400, string(errorPage(400, true)))
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "head cut short",
			talk: func(c *ltConn) []*ltResp {
				c.send("GET /cut HTTP/1.1\r\nHost: x\r\n")
				require.NoError(c.t, c.nc.(*net.TCPConn).CloseWrite())
				r := c.response("GET")
				c.expectEOF()
				return []*ltResp{r}
			},
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 400, string(errorPage(400, true)))
				assert.True(t, rs[0].close)
			},
			stats:  loopStats{handedOff: 1},
			access: []string{`127\.0\.0\.1 "GET /cut HTTP/1\.1" 400 157 \d+ - - -`},
		},
		{
			// the loop's head buffer (16 KiB) fills: the goroutine path
			// reads the rest (its limit is 32 KiB)
			name: "request head larger than the loop's buffer",
			talk: followed(ltSeq("GET /bighead HTTP/1.1\r\nHost: x\r\n" + bigHead + "\r\n")),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /bighead body=0\n")
				checkAfter(t, rs)
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "pipelined behind a served request",
			talk: followed(ltPipe(ltGet("/first"), "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", ltGet("/third"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /first body=0\n")
				ltBody(t, rs[1], 200, "app POST /second body=3\n")
				ltBody(t, rs[2], 200, "app GET /third body=0\n")
				checkAfter(t, rs)
			},
			stats: loopStats{served: 1, handedOff: 1},
		},
		{
			name: "upgrade",
			talk: func(c *ltConn) []*ltResp {
				c.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				r := c.response("GET")
				c.send("ping")
				echo := make([]byte, 4)
				_, err := io.ReadFull(c.br, echo)
				require.NoError(c.t, err)
				return []*ltResp{r, {head: "tunnel", body: echo}}
			},
			check: func(t *testing.T, rs []*ltResp) {
				assert.Equal(t, 101, rs[0].status)
				assert.Equal(t, "ping", string(rs[1].body))
			},
			stats: loopStats{handedOff: 1},
		},
		{
			name: "chunked response",
			talk: followed(ltSeq(ltGet("/chunked"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /chunked body=0\nhello")
				assert.Equal(t, "chunked", rs[0].hdr["transfer-encoding"])
				checkAfter(t, rs)
			},
			stats: loopStats{responsesHandedOff: 1},
		},
		{
			name: "pipelined behind a chunked response",
			talk: followed(ltPipe(ltGet("/chunked"), ltGet("/behind-chunked"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /chunked body=0\nhello")
				ltBody(t, rs[1], 200, "app GET /behind-chunked body=0\n")
				checkAfter(t, rs)
			},
			stats: loopStats{responsesHandedOff: 1},
		},
		{
			name: "close-delimited response",
			talk: followed(ltSeq(ltGet("/eof"))),
			check: func(t *testing.T, rs []*ltResp) {
				ltBody(t, rs[0], 200, "app GET /eof body=0\n")
				checkAfter(t, rs)
			},
			stats: loopStats{responsesHandedOff: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { ltCheckCase(t, loop, gor, tc) })
	}

	t.Run("the connection leaves the loop", func(t *testing.T) {
		// once handed over, a connection's requests are the goroutine
		// path's, the loop's counts stay
		loop.settle(t)
		c := ltDial(t, loop.addr)
		before := loop.srv.loopStats()
		ltBody(t, c.roundTrip(ltGet("/first")), 200, "app GET /first body=0\n")
		assert.Equal(t, loopStats{served: 1}, ltDelta(loop.srv.loopStats(), before))
		ltBody(t, c.roundTrip(ltGet("/chunked")), 200, "app GET /chunked body=0\nhello")
		assert.Equal(t, loopStats{served: 1, responsesHandedOff: 1}, ltDelta(loop.srv.loopStats(), before))
		for i := range 3 {
			ltBody(t, c.roundTrip(ltGet(fmt.Sprintf("/then/%d", i))), 200, fmt.Sprintf("app GET /then/%d body=0\n", i))
		}
		ltBody(t, c.roundTrip("POST /then HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"), 200, "app POST /then body=2\n")
		assert.Equal(t, loopStats{served: 1, responsesHandedOff: 1}, ltDelta(loop.srv.loopStats(), before))
	})
}

// ltPendingMax is the most output a loop's client connection has waiting
// for its client.
func ltPendingMax(p *ltProxy) int {
	most := 0
	for _, el := range p.srv.loops {
		el.lp.Do(func() {
			for lc := range el.clients {
				most = max(most, len(lc.Out.Pending))
			}
		})
	}
	return most
}

// ltSendBufferMax is the largest send buffer TCP may give a socket.
func ltSendBufferMax(t *testing.T) int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) != 3 {
		return 0
	}
	n, err := strconv.Atoi(f[2])
	require.NoError(t, err)
	return n
}

// ltDialSmall connects to addr with a 4 KiB receive buffer, so that a
// large response waits on the proxy's side.
func ltDialSmall(t *testing.T, addr string) *ltConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &ltConn{t: t, nc: nc, br: bufio.NewReaderSize(nc, 1024)}
}

// ltWaitHeldBack waits until the loop holds back an 8 MiB response for a
// client that does not read, and reports whether it could tell (the
// kernel's send buffers may take all of it).
func ltWaitHeldBack(t *testing.T, p *ltProxy) bool {
	t.Helper()
	if ltSendBufferMax(t) >= len(ltBigBody())/2 {
		return false
	}
	require.Eventually(t, func() bool { return ltPendingMax(p) >= maxPending }, 10*time.Second, 5*time.Millisecond,
		"the client's output fills up")
	return true
}

// TestLoopSlowReader sends an 8 MiB response to a client with a small
// receive buffer that reads late and in small pieces: the loop holds
// back while the client's output is full, the body arrives whole, and
// the connection is in step for the requests after it.
func TestLoopSlowReader(t *testing.T) {
	vars := ltVars(t, false)
	p := ltStart(t, ltConf, vars, true)
	want := ltBigBody()
	tests := []struct {
		name  string
		then  []string // requests pipelined behind the big one
		thens []string // and their answers' bodies
		stats loopStats
	}{
		{name: "alone", stats: loopStats{served: 1}},
		{
			name:  "a POST and a GET pipelined behind",
			then:  []string{"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", ltGet("/behind")},
			thens: []string{"app POST /p body=5\n", "app GET /behind body=0\n"},
			stats: loopStats{served: 1, handedOff: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ltDialSmall(t, p.addr)
			nc := c.nc
			before := p.srv.loopStats()

			c.send(ltGet("/big/slow") + strings.Join(tc.then, ""))
			ltWaitHeldBack(t, p)
			time.Sleep(100 * time.Millisecond)
			assert.LessOrEqual(t, ltPendingMax(p), maxPending+2*evloop.BufSize, "the loop stops reading the upstream")

			require.NoError(t, nc.SetReadDeadline(time.Now().Add(30*time.Second)))
			res, err := readResponseHead(c.br, "GET")
			require.NoError(t, err)
			require.Equal(t, 200, res.status)
			require.Equal(t, int64(len(want)), res.contentLength)
			got := make([]byte, 0, len(want))
			piece := make([]byte, 700)
			for len(got) < 1<<20 {
				n, err := c.br.Read(piece)
				require.NoError(t, err)
				got = append(got, piece[:n]...)
				if len(got)%(64<<10) < n {
					time.Sleep(5 * time.Millisecond)
				}
			}
			time.Sleep(100 * time.Millisecond)
			rest := make([]byte, len(want)-len(got))
			_, err = io.ReadFull(c.br, rest)
			require.NoError(t, err)
			got = append(got, rest...)
			require.Equal(t, len(want), len(got))
			assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got), "the body arrives intact")
			for i, r := range tc.then {
				ltBody(t, c.response(methodOf(r)), 200, tc.thens[i])
			}
			assert.Equal(t, tc.stats, ltDelta(p.srv.loopStats(), before))

			// the connection is in step for the next request
			ltBody(t, c.roundTrip(ltGet("/after-slow")), 200, "app GET /after-slow body=0\n")
			if len(tc.then) == 0 {
				tc.stats.served++ // still on the loop
			}
			assert.Equal(t, tc.stats, ltDelta(p.srv.loopStats(), before))
			_ = nc.Close()
			p.settle(t)
			assert.Regexp(t, `(?m)^127\.0\.0\.1 "GET /big/slow HTTP/1\.1" 200 8388608 35 `+regexp.QuoteMeta(vars["BIG"])+` 200 \d+\.\d{3}$`,
				strings.Join(p.lines("access.log"), "\n"))
		})
	}
}

// TestLoopClientGoesAway closes the client in the middle of an 8 MiB
// response: the loop ends the exchange (logged with the bytes sent) and
// the connection, with nothing left open.
func TestLoopClientGoesAway(t *testing.T) {
	vars := ltVars(t, false)
	p := ltStart(t, ltConf, vars, true)
	before := p.srv.loopStats()
	c := ltDialSmall(t, p.addr)
	c.send(ltGet("/big/gone"))
	heldBack := ltWaitHeldBack(t, p)
	require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := readResponseHead(c.br, "GET") // the head only: the body stays unread
	require.NoError(t, err)
	require.Equal(t, 200, res.status)
	require.NoError(t, c.nc.Close())
	p.settle(t)
	assert.Equal(t, loopStats{served: 1}, ltDelta(p.srv.loopStats(), before))
	lines := p.lines("access.log")
	require.Len(t, lines, 1)
	f := strings.Fields(lines[0])
	require.Len(t, f, 10, lines[0])
	assert.Equal(t, []string{"127.0.0.1", `"GET`, "/big/gone", `HTTP/1.1"`, "200"}, f[:5])
	sent, err := strconv.Atoi(f[5])
	require.NoError(t, err)
	if heldBack {
		assert.Less(t, sent, len(ltBigBody()), "the body was cut short")
	}
	assert.Empty(t, p.lines("error.log"))
}

// TestLoopReloadAndShutdown checks that a reload closes the loop's idle
// connections and lets a busy one finish, and that a graceful stop
// finishes the request in flight before it returns.
func TestLoopReloadAndShutdown(t *testing.T) {
	app := startBackend(t, "app", "127.0.0.1:0")
	dir := t.TempDir()
	vars := map[string]string{"DIR": dir, "LISTEN": freePort(t, "127.0.0.1"), "APP": app.addr(),
		"VERSION": "v1", "ACCESS": filepath.Join(dir, "access.log")}
	t.Setenv("PROXYD_EVENT_LOOP", "")
	srv, err := New(loadConf(t, dir, vars), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	require.NotEmpty(t, srv.loops)
	addr := vars["LISTEN"]
	// waitSeen waits until the backend has the request with X-Test-Id id
	waitSeen := func(id string) {
		require.Eventually(t, func() bool { return app.head(id) != "" }, 10*time.Second, 5*time.Millisecond, id)
	}

	before := srv.loopStats()
	idle := ltDial(t, addr)
	ltBody(t, idle.roundTrip(ltGet("/x/idle")), 200, "app GET /x/idle body=0\n")
	busy := ltDial(t, addr)
	busy.send("GET /x/pause HTTP/1.1\r\nHost: x\r\nX-Test-Id: busy\r\n\r\n")
	waitSeen("busy")
	assert.Equal(t, loopStats{served: 1}, ltDelta(srv.loopStats(), before))

	vars["VERSION"] = "v2"
	require.NoError(t, srv.Reload(loadConf(t, dir, vars)))
	idle.expectEOF()
	// the request in flight finishes under the old configuration, then
	// its connection closes
	ltBody(t, busy.response("GET"), 200, "app GET /x/pause body=0\n")
	busy.expectEOF()
	assert.Equal(t, loopStats{served: 2}, ltDelta(srv.loopStats(), before))

	// new connections see the new configuration, on the loop
	fresh := ltDial(t, addr)
	ltBody(t, fresh.roundTrip(ltGet("/x/fresh")), 200, "app GET /x/fresh body=0\n")
	assert.Equal(t, loopStats{served: 3}, ltDelta(srv.loopStats(), before))
	ltBody(t, fresh.roundTrip(ltGet("/v")), 200, "v2")
	assert.Equal(t, loopStats{served: 3, handedOff: 1}, ltDelta(srv.loopStats(), before))
	_ = fresh.nc.Close()

	// a graceful stop with a request in flight and an idle connection
	idle2 := ltDial(t, addr)
	ltBody(t, idle2.roundTrip(ltGet("/x/idle2")), 200, "app GET /x/idle2 body=0\n")
	inFlight := ltDial(t, addr)
	inFlight.send("GET /x/pause HTTP/1.1\r\nHost: x\r\nX-Test-Id: shutdown\r\n\r\n")
	waitSeen("shutdown")
	loops := srv.loops // the stop takes them off the server
	before = srv.loopStats()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	require.NoError(t, srv.Shutdown(ctx))
	ltBody(t, inFlight.response("GET"), 200, "app GET /x/pause body=0\n")
	inFlight.expectEOF()
	idle2.expectEOF()
	var after loopStats
	for _, el := range loops { // stopped: their counts are final
		after.served += el.stats.served
		after.handedOff += el.stats.handedOff
		after.responsesHandedOff += el.stats.responsesHandedOff
	}
	assert.Equal(t, loopStats{served: 1}, ltDelta(after, before))
	_, err = net.DialTimeout("tcp", addr, 2*time.Second)
	assert.Error(t, err, "the listener is closed")
}

// TestLoopAccessLogSameAsGoroutines runs one corpus against proxyd with
// event loops and with PROXYD_EVENT_LOOP=0: the access logs match.
func TestLoopAccessLogSameAsGoroutines(t *testing.T) {
	const conf = `
daemon off;
error_log {{DIR}}/error.log;
events {}
http {
	log_format same '$remote_addr "$request" $status $body_bytes_sent $bytes_sent $request_length $upstream_addr $upstream_status $connection_requests';
	access_log {{DIR}}/access.log same;
	server {
		listen {{LISTEN}};
		location / { proxy_pass http://{{APP}}; }
		location /refused/ { proxy_pass http://{{REFUSED}}; }
	}
}
`
	app := startBackend(t, "app", "127.0.0.1:0")
	vars := map[string]string{"APP": app.addr(), "REFUSED": freePort(t, "127.0.0.1")}
	corpus := []func(c *ltConn) []*ltResp{
		ltSeq(ltGet("/a"), ltGet("/refused/b"), "HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", ltGet("/e")),
		ltSeq(ltGet("/chunked"), "GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	}
	run := func(p *ltProxy) (resps []string, access []string, stats loopStats) {
		for _, talk := range corpus {
			o := ltRun(t, p, talk)
			resps = append(resps, ltStrings(o.resps)...)
			access = append(access, o.access...)
			stats = loopStats{
				served:             stats.served + o.delta.served,
				handedOff:          stats.handedOff + o.delta.handedOff,
				responsesHandedOff: stats.responsesHandedOff + o.delta.responsesHandedOff,
			}
		}
		return resps, access, stats
	}
	loopResps, loopAccess, loopStatsSum := run(ltStart(t, conf, vars, true))
	gorResps, gorAccess, _ := run(ltStart(t, conf, vars, false))

	assert.Equal(t, loopStats{served: 3, handedOff: 1, responsesHandedOff: 1}, loopStatsSum)
	require.Len(t, loopAccess, 7)
	assert.Equal(t, gorAccess, loopAccess)
	assert.Equal(t, gorResps, loopResps)
	assert.Regexp(t, `^127\.0\.0\.1 "GET /refused/b HTTP/1\.1" 502 \d+ \d+ \d+ `+regexp.QuoteMeta(vars["REFUSED"])+` 502 2$`, loopAccess[1])
	assert.Regexp(t, `^127\.0\.0\.1 "GET /e HTTP/1\.1" 200 18 \d+ 28 `+regexp.QuoteMeta(vars["APP"])+` 200 5$`, loopAccess[4])
}
