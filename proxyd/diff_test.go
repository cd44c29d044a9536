package proxyd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
)

// diffConf is the configuration served by both nginx and proxyd in the
// differential test. It holds the article's site (ip_hash upstream,
// Host and X-Real-IP headers, main log format) plus one location per
// behaviour under test.
const diffConf = `
daemon off;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log;
events { worker_connections 64; }
http {
	log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
	                  '$status $body_bytes_sent "$http_referer" '
	                  '"$http_user_agent" "$http_x_forwarded_for"';
	log_format up '$request $status $upstream_addr $upstream_status';
	access_log {{DIR}}/access.log main;
	access_log {{DIR}}/up.log up;
	access_log {{DIR}}/combined.log;
	proxy_read_timeout 1s;

	upstream myapp1 { ip_hash; server {{APP1}}; server {{APP2}}; }
	upstream rr { server {{APP1}} weight=2; server {{APP2}}; }
	upstream dead { server {{DEAD1}}; server {{DEAD2}}; }
	upstream mixed { server {{DEAD1}}; server {{APP1}}; }
	upstream single { server {{APP2}}; }
	upstream bkp { server {{DEAD1}}; server {{APP2}} backup; }
	upstream lc { least_conn; server {{APP1}}; server {{APP2}}; }
	upstream hsh { hash $request_uri; server {{APP1}}; server {{APP2}}; }
	upstream hole { server {{HOLE}}; server {{APP1}}; }
	upstream kalive { server {{APP2}}; keepalive 4; }
	upstream chsh { hash $request_uri consistent; server {{APP1}}; server {{APP2}}; }

	server {
		listen {{LISTEN}} default_server;
		server_name www.example.com;
		location / {
			proxy_set_header Host $host;
			proxy_set_header X-Real-IP $remote_addr;
			allow all;
			proxy_pass http://myapp1;
		}
		location = /exact { proxy_pass http://rr; }
		location ^~ /static/ { proxy_pass http://rr/files/; }
		location ~ \.php$ { proxy_pass http://rr; }
		location ~* \.JPG$ { proxy_pass http://rr; }
		location /rr/ { proxy_pass http://rr; }
		location /dead/ { proxy_pass http://dead; }
		location /mixed/ { proxy_pass http://mixed; }
		location /bkp/ { proxy_pass http://bkp; }
		location /single/ { proxy_pass http://single; }
		location /lc/ { proxy_pass http://lc; }
		location /hash/ { proxy_pass http://hsh; }
		location /chash/ { proxy_pass http://chsh; }
		location /direct/ { proxy_pass http://{{APP2}}/d/; }
		location /deny/ { deny all; proxy_pass http://rr; }
		location /acl/ { deny 127.0.0.2; allow 127.0.0.0/16; deny all; return 200 "allowed\n"; }
		location /ret { return 200 "hello $host $request_uri\n"; }
		location /redir { return 301 /elsewhere; }
		location /std/ {
			proxy_set_header Host $host;
			proxy_set_header X-Real-IP $remote_addr;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
			proxy_pass http://rr;
		}
		location /next5xx/ { proxy_next_upstream error timeout http_503; proxy_pass http://rr; }
		location /ws/ {
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_pass http://single;
		}
		location /v11/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://single; }
		location /stream/ { proxy_http_version 1.1; proxy_request_buffering off; proxy_pass http://single; }
		location /ka/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://kalive; }
		location /hole/ { proxy_connect_timeout 300ms; proxy_pass http://hole; }
		location /hole1/ { proxy_connect_timeout 300ms; proxy_pass http://{{HOLE}}; }
		location /r200 { return 200; }
		location /r404 { return 404; }
		location /r444 { return 444; }
		location /r302 { return 302 http://example.net/x; }
		location /r403t { return 403 "custom $uri"; }
		location /outer/ {
			location ~ /outer/inner { return 200 "nested regex\n"; }
			proxy_pass http://single;
		}
	}
	server {
		listen {{LISTEN}};
		server_name static.test;
		root {{STATIC}};
		types { text/css css; text/html html; }
		location / { try_files $uri $uri/ =404; }
		location /plain/ { }
		location /fallback/ { try_files $uri /px/fallback?from=try; }
		location /px/ { proxy_pass http://rr; }
	}
	server {
		listen {{LISTEN}};
		server_name *.example.org;
		location / { return 200 "wild $host\n"; }
	}
	server {
		listen {{LISTEN}};
		server_name ~^(\w+)\.regex\.test$;
		location / { return 200 "regex $1\n"; }
	}
	server {
		listen {{LISTEN}};
		server_name www.example.* exact.example.net;
		location / { return 200 "named $server_name\n"; }
	}
}
`

// diffCase is one request (or several on one connection) sent to both.
type diffCase struct {
	name string
	src  string   // client source address
	raws []string // raw requests; {{ID}} becomes the test id
}

func req(method, path, host string, extra ...string) string {
	s := method + " " + path + " HTTP/1.1\r\n"
	if host != "" {
		s += "Host: " + host + "\r\n"
	}
	s += "User-Agent: difftest\r\nX-Test-Id: {{ID}}\r\n"
	for _, e := range extra {
		s += e + "\r\n"
	}
	return s + "\r\n"
}

// manyPaths is one GET for each of a dozen keys under prefix.
func manyPaths(prefix string) []string {
	var out []string
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		out = append(out, req("GET", prefix+k, "www.example.com"))
	}
	return out
}

var diffCases = []diffCase{
	{"article root", "127.0.0.1", []string{req("GET", "/", "www.example.com")}},
	{"article other client", "127.1.2.3", []string{req("GET", "/x?a=1&b=2", "www.example.com")}},
	{"article third client", "127.5.6.7", []string{req("GET", "/y", "www.example.com", "Referer: http://r/", "X-Forwarded-For: 1.2.3.4")}},
	{"ip_hash fourth", "127.200.1.1", []string{req("GET", "/", "www.example.com")}},
	{"ip_hash fifth", "127.33.44.55", []string{req("GET", "/", "www.example.com")}},
	{"ip_hash 6", "127.1.1.1", []string{req("GET", "/", "www.example.com")}},
	{"ip_hash 7", "127.2.3.1", []string{req("GET", "/", "www.example.com")}},
	{"ip_hash 8", "127.77.0.1", []string{req("GET", "/", "www.example.com")}},
	{"ip_hash 9", "127.128.64.32", []string{req("GET", "/", "www.example.com")}},
	{"ip_hash 10", "127.250.250.250", []string{req("GET", "/", "www.example.com")}},
	{"unknown host default server", "127.0.0.1", []string{req("GET", "/", "nobody.test")}},
	{"host with port and case", "127.0.0.1", []string{req("GET", "/", "WWW.Example.COM:8080")}},
	{"host trailing dot", "127.0.0.1", []string{req("GET", "/", "www.example.com.")}},
	{"wildcard front", "127.0.0.1", []string{req("GET", "/", "a.b.example.org")}},
	{"wildcard back", "127.0.0.1", []string{req("GET", "/", "www.example.co.uk")}},
	{"exact second name", "127.0.0.1", []string{req("GET", "/", "exact.example.net")}},
	{"regex name", "127.0.0.1", []string{req("GET", "/", "foo.regex.test")}},
	{"exact location", "127.0.0.1", []string{req("GET", "/exact", "www.example.com")}},
	{"exact location no match", "127.0.0.1", []string{req("GET", "/exact/more", "www.example.com")}},
	{"noregex prefix with uri", "127.0.0.1", []string{req("GET", "/static/a%20b.php?q=1", "www.example.com")}},
	{"regex location", "127.0.0.1", []string{req("GET", "/rr/index.php", "www.example.com")}},
	{"caseless regex", "127.0.0.1", []string{req("GET", "/pics/a.jpg", "www.example.com")}},
	{"rr 1", "127.0.0.1", []string{req("GET", "/rr/1", "www.example.com")}},
	{"rr 2", "127.0.0.1", []string{req("GET", "/rr/2", "www.example.com")}},
	{"rr 3", "127.0.0.1", []string{req("GET", "/rr/3", "www.example.com")}},
	{"rr 4", "127.0.0.1", []string{req("GET", "/rr/4", "www.example.com")}},
	{"least_conn", "127.0.0.1", []string{req("GET", "/lc/1", "www.example.com"), req("GET", "/lc/2", "www.example.com")}},
	{"hash", "127.0.0.1", manyPaths("/hash/")},
	{"consistent hash", "127.0.0.1", manyPaths("/chash/")},
	{"uri replacement", "127.0.0.1", []string{req("GET", "/direct/x/y?z=1", "www.example.com")}},
	{"auto redirect", "127.0.0.1", []string{req("GET", "/direct", "www.example.com")}},
	{"merge slashes and dots", "127.0.0.1", []string{req("GET", "//rr/./a/../b", "www.example.com")}},
	{"deny", "127.0.0.1", []string{req("GET", "/deny/x", "www.example.com")}},
	{"acl allowed", "127.0.0.1", []string{req("GET", "/acl/x", "www.example.com")}},
	{"acl denied host", "127.0.0.2", []string{req("GET", "/acl/x", "www.example.com")}},
	{"acl denied net", "127.9.0.1", []string{req("GET", "/acl/x", "www.example.com")}},
	{"return text", "127.0.0.1", []string{req("GET", "/ret?x", "www.example.com")}},
	{"return redirect", "127.0.0.1", []string{req("GET", "/redir", "www.example.com")}},
	{"std headers with xff", "127.0.0.9", []string{req("GET", "/std/a", "www.example.com", "X-Forwarded-For: 10.0.0.1", "X-Real-IP: 6.6.6.6")}},
	{"client hop headers dropped", "127.0.0.1", []string{req("GET", "/rr/h", "www.example.com", "Connection: keep-alive, Upgrade", "Keep-Alive: 300", "Upgrade: foo", "TE: trailers", "Expect: something", "X_Under: dropped", "X-Dup: 1", "X-Dup: 2")}},
	{"post body", "127.0.0.1", []string{req("POST", "/rr/post", "www.example.com", "Content-Type: text/plain", "Content-Length: 11") + "hello world"}},
	{"post chunked", "127.0.0.1", []string{req("POST", "/rr/chunk", "www.example.com", "Transfer-Encoding: chunked") + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"}},
	{"put empty", "127.0.0.1", []string{req("PUT", "/rr/put", "www.example.com", "Content-Length: 0")}},
	{"head", "127.0.0.1", []string{req("HEAD", "/rr/head", "www.example.com")}},
	{"delete", "127.0.0.1", []string{req("DELETE", "/rr/del", "www.example.com")}},
	{"keep-alive three", "127.0.0.1", []string{req("GET", "/rr/k1", "www.example.com"), req("GET", "/ret", "www.example.com"), req("GET", "/rr/k3", "www.example.com")}},
	{"http/1.0", "127.0.0.1", []string{"GET /rr/ten HTTP/1.0\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"http/1.0 keep-alive", "127.0.0.1", []string{"GET /rr/ten HTTP/1.0\r\nConnection: keep-alive\r\nX-Test-Id: {{ID}}\r\n\r\n", "GET /rr/ten2 HTTP/1.0\r\nX-Test-Id: {{ID}}b\r\n\r\n"}},
	{"absolute uri", "127.0.0.1", []string{"GET http://www.example.com/abs?q HTTP/1.1\r\nHost: other\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"chunked from upstream", "127.0.0.1", []string{req("GET", "/rr/chunked", "www.example.com")}},
	{"eof-delimited from upstream", "127.0.0.1", []string{req("GET", "/rr/eof", "www.example.com")}},
	{"eof-delimited to http/1.0", "127.0.0.1", []string{"GET /rr/eof HTTP/1.0\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"upstream redirect rewritten", "127.0.0.1", []string{req("GET", "/single/redirect", "www.example.com")}},
	{"upstream 503 passed", "127.0.0.1", []string{req("GET", "/rr/status/503", "www.example.com")}},
	{"upstream 404 passed", "127.0.0.1", []string{req("GET", "/rr/status/404", "www.example.com")}},
	{"next upstream on 503", "127.0.0.1", []string{req("GET", "/next5xx/status/503", "www.example.com")}},
	{"timeout 504", "127.0.0.1", []string{req("GET", "/single/slow", "www.example.com")}},
	{"dead upstream 502", "127.0.0.1", []string{req("GET", "/dead/a", "www.example.com")}},
	{"dead upstream again (no live)", "127.0.0.1", []string{req("GET", "/dead/b", "www.example.com")}},
	{"next upstream after refused", "127.0.0.1", []string{req("GET", "/mixed/a", "www.example.com")}},
	{"failed peer skipped", "127.0.0.1", []string{req("GET", "/mixed/b", "www.example.com")}},
	{"backup used", "127.0.0.1", []string{req("GET", "/bkp/a", "www.example.com")}},
	{"post to dead not retried", "127.0.0.1", []string{req("POST", "/mixed/p", "www.example.com", "Content-Length: 2") + "hi"}},
	{"http 1.1 upstream", "127.0.0.1", []string{req("GET", "/v11/a", "www.example.com"), req("GET", "/v11/b", "www.example.com")}},
	{"nested regex", "127.0.0.1", []string{req("GET", "/outer/inner", "www.example.com")}},
	{"nested prefix fallback", "127.0.0.1", []string{req("GET", "/outer/x", "www.example.com")}},
	{"bad: no host", "127.0.0.1", []string{"GET / HTTP/1.1\r\n\r\n"}},
	{"bad: garbage", "127.0.0.1", []string{"HELLO\r\n\r\n"}},
	{"bad: lowercase method", "127.0.0.1", []string{"get / HTTP/1.1\r\nHost: x\r\n\r\n"}},
	{"bad: http/2", "127.0.0.1", []string{"GET / HTTP/2.0\r\nHost: x\r\n\r\n"}},
	{"bad: header without colon", "127.0.0.1", []string{"GET / HTTP/1.1\r\nHost: x\r\nBroken\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"bad: header with space in name", "127.0.0.1", []string{"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"bad: folded header", "127.0.0.1", []string{"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"empty host http/1.0", "127.0.0.1", []string{"GET /rr/e HTTP/1.0\r\nHost:\r\nX-Test-Id: {{ID}}\r\n\r\n"}},
	{"bad: dotdot above root", "127.0.0.1", []string{"GET /../x HTTP/1.1\r\nHost: x\r\n\r\n"}},
	{"bad: two hosts", "127.0.0.1", []string{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}},
	{"bad: cl and te", "127.0.0.1", []string{"POST /rr/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}},
	{"bad: te gzip", "127.0.0.1", []string{"POST /rr/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"}},
	{"bad: body too large", "127.0.0.1", []string{req("POST", "/rr/big", "www.example.com", "Content-Length: 2000000")}},
	{"bad: invalid host", "127.0.0.1", []string{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"}},
	{"large upload streamed", "127.0.0.1", []string{req("POST", "/single/up", "www.example.com", "Content-Length: 200000") + strings.Repeat("x", 200000)}},
	{"large download", "127.0.0.1", []string{req("GET", "/single/big", "www.example.com")}},
	{"expect 100-continue", "127.0.0.1", []string{req("POST", "/single/e", "www.example.com", "Expect: 100-continue", "Content-Length: 4") + "abcd"}},
	{"chunked upload unbuffered", "127.0.0.1", []string{req("POST", "/stream/c", "www.example.com", "Transfer-Encoding: chunked") + "3\r\nabc\r\n0\r\n\r\n"}},
	{"upstream keepalive", "127.0.0.1", []string{req("GET", "/ka/1", "www.example.com"), req("GET", "/ka/2", "www.example.com"), req("GET", "/ka/3", "www.example.com")}},
	{"return no text", "127.0.0.1", []string{req("GET", "/r200", "www.example.com"), req("GET", "/r404", "www.example.com"), req("GET", "/r302", "www.example.com"), req("GET", "/r403t", "www.example.com")}},
	{"return 444", "127.0.0.1", []string{req("GET", "/r444", "www.example.com")}},
	{"pipelined", "127.0.0.1", []string{req("GET", "/rr/p1", "www.example.com") + req("GET", "/rr/p2", "www.example.com"), ""}},
	{"escaped uri with replacement", "127.0.0.1", []string{req("GET", "/static/%2Fa%3Fb+c%C3%A9?x=%20", "www.example.com")}},
	{"raw utf8 uri", "127.0.0.1", []string{req("GET", "/static/\xc3\xa9t\xc3\xa9", "www.example.com")}},
	{"long header", "127.0.0.1", []string{req("GET", "/rr/long", "www.example.com", "X-Long: "+strings.Repeat("a", 9000))}},
	{"many headers", "127.0.0.1", []string{req("GET", "/rr/many", "www.example.com", strings.Repeat("X-Many: 0123456789012345678901234567890123456789\r\n", 600)+"X-End: 1")}},
	{"options star", "127.0.0.1", []string{"OPTIONS * HTTP/1.1\r\nHost: www.example.com\r\n\r\n"}},
	{"unknown method", "127.0.0.1", []string{req("PURGE", "/rr/m", "www.example.com")}},
	{"upstream without status line (HTTP/0.9)", "127.0.0.1", []string{req("GET", "/rr/http09", "www.example.com", "Connection: close")}},
	{"head on return", "127.0.0.1", []string{req("HEAD", "/ret", "www.example.com")}},
	{"static index", "127.0.0.1", []string{req("GET", "/", "static.test"), req("GET", "/index.html", "static.test")}},
	{"static file", "127.0.0.1", []string{req("GET", "/a.txt", "static.test"), req("HEAD", "/a.txt", "static.test")}},
	{"static directory redirect", "127.0.0.1", []string{req("GET", "/dir", "static.test"), req("GET", "/dir/", "static.test"), req("GET", "/plain?x=1", "static.test")}},
	{"static directory without index", "127.0.0.1", []string{req("GET", "/nodir/", "static.test")}},
	{"static missing", "127.0.0.1", []string{req("GET", "/missing", "static.test"), req("GET", "/plain/missing", "static.test")}},
	{"static methods", "127.0.0.1", []string{req("POST", "/a.txt", "static.test", "Content-Length: 2") + "hi", req("DELETE", "/a.txt", "static.test"), req("POST", "/plain/missing", "static.test")}},
	{"static types", "127.0.0.1", []string{req("GET", "/plain/x.css", "static.test"), req("GET", "/plain/y.unknown", "static.test")}},
	{"static conditional", "127.0.0.1", []string{req("GET", "/plain/x.css", "static.test", "If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT"), req("GET", "/plain/x.css", "static.test", "If-None-Match: \"61cf9980-9\"")}},
	{"try_files fallback", "127.0.0.1", []string{req("GET", "/fallback/zzz?orig=1", "static.test")}},
	{"connect timeout, next upstream", "127.0.0.1", []string{req("GET", "/hole/a", "www.example.com")}},
	{"connect timeout 504", "127.0.0.1", []string{req("GET", "/hole1/a", "www.example.com")}},
}

// TestDifferentialNginx sends one corpus to Debian's nginx and to proxyd
// running the same configuration and compares what the client got, which
// backend answered, the request head the backend saw, and the access log.
func TestDifferentialNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test starts nginx")
	}
	app1 := startBackend(t, "app1", "127.0.0.1:0")
	app2 := startBackend(t, "app2", "127.0.0.1:0")
	vars := map[string]string{
		"APP1": app1.addr(), "APP2": app2.addr(),
		"DEAD1": freePort(t, "127.0.0.1"), "DEAD2": freePort(t, "127.0.0.1"),
		"HOLE": nettest.Blackhole(t).String(), "STATIC": staticRoot(t),
	}
	type result struct {
		resps   []*clientResp
		backend []string // who saw each request id, and the head it saw
	}
	runCorpus := func(r *proxyRun) []result {
		app1.reset()
		app2.reset()
		var out []result
		for i, c := range diffCases {
			id := fmt.Sprintf("t%02d", i)
			var raws, methods []string
			for j, raw := range c.raws {
				rid := id
				if j > 0 {
					rid = fmt.Sprintf("%s-%d", id, j)
				}
				raws = append(raws, strings.ReplaceAll(raw, "{{ID}}", rid))
				methods = append(methods, methodOf(raw))
			}
			res := result{resps: exchangeRaw(r.addr, c.src, raws, methods)}
			time.Sleep(2 * time.Millisecond)
			for j := range c.raws {
				rid := id
				if j > 0 {
					rid = fmt.Sprintf("%s-%d", id, j)
				}
				for _, b := range []*backend{app1, app2} {
					if h := b.head(rid); h != "" {
						res.backend = append(res.backend, b.name+"\n"+h)
					}
					if h := b.head(rid + "b"); h != "" {
						res.backend = append(res.backend, b.name+"\n"+h)
					}
				}
			}
			out = append(out, res)
		}
		return out
	}
	ng := startNginx(t, diffConf, vars)
	want := runCorpus(ng)
	wantWS := wsExchange(ng.addr)
	px := startProxyd(t, diffConf, vars)
	got := runCorpus(px)
	gotWS := wsExchange(px.addr)
	assert.Contains(t, wantWS, "101 Switching Protocols")
	assert.Equal(t, wantWS, gotWS, "websocket")

	for i, c := range diffCases {
		w, g := want[i], got[i]
		assert.Equal(t, len(w.resps), len(g.resps), "%s: number of responses", c.name)
		for j := 0; j < min(len(w.resps), len(g.resps)); j++ {
			wr := strings.ReplaceAll(w.resps[j].String(), ng.addr[strings.LastIndex(ng.addr, ":"):], ":PORT")
			gr := strings.ReplaceAll(g.resps[j].String(), px.addr[strings.LastIndex(px.addr, ":"):], ":PORT")
			assert.Equal(t, wr, gr, "%s: response %d", c.name, j)
		}
		assert.Equal(t, w.backend, g.backend, "%s: backend view", c.name)
	}
	{
		// error_log lines at the default level, apart from time, pid and
		// connection number
		norm := func(r *proxyRun) []string {
			data, _ := os.ReadFile(filepath.Join(r.dir, "error.log"))
			re := regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: (\*\d+ )?`)
			var out []string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, "[error]") || strings.Contains(l, "[warn]") {
					out = append(out, re.ReplaceAllString(l, "$1 "))
				}
			}
			return out
		}
		wantErr, gotErr := norm(ng), norm(px)
		assert.NotEmpty(t, wantErr)
		if d := diffLines(wantErr, gotErr); d != "" {
			t.Errorf("error.log differs:\n%s", d)
		}
	}
	seen := 0
	for _, w := range want {
		seen += len(w.backend)
	}
	assert.Greater(t, seen, 50, "backends saw too few requests for the test to mean much")
	for _, name := range []string{"access.log", "up.log", "combined.log"} {
		wl := ng.logLines(t, name)
		// lines are written after the response; the last (WebSocket) one
		// when the tunnel closes
		deadline := time.Now().Add(3 * time.Second)
		gl := px.logLines(t, name)
		for len(gl) < len(wl) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			gl = px.logLines(t, name)
		}
		assert.Greater(t, len(wl), len(diffCases), "nginx %s too short", name)
		// A line is written when its request ends, and requests on
		// different connections may end in either order (seen in CI with
		// both servers): compare the lines, not their order.
		wl, gl = slices.Sorted(slices.Values(wl)), slices.Sorted(slices.Values(gl))
		if d := diffLines(wl, gl); d != "" {
			t.Errorf("%s differs:\n%s", name, d)
		}
	}
}

// wsExchange upgrades a connection through /ws/ws, sends bytes both ways
// and returns what the client saw.
func wsExchange(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET /ws/ws HTTP/1.1\r\nHost: www.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Test-Id: ws\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := readResponseHead(br, "GET")
	if err != nil {
		return err.Error()
	}
	var sb strings.Builder
	sb.WriteString(res.statusLine + "\n")
	for _, h := range res.headers {
		if h.name != "Date" {
			sb.WriteString(h.name + ": " + h.value + "\n")
		}
	}
	for _, msg := range []string{"ping", "second message"} {
		fmt.Fprint(c, msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil {
			return sb.String() + err.Error()
		}
		sb.WriteString("echo: " + string(buf) + "\n")
	}
	return sb.String()
}

// staticRoot makes the document root of the static server, with fixed
// modification times so that ETag and Last-Modified are predictable.
func staticRoot(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"index.html": "<p>index</p>\n", "a.txt": "hello file\n", "dir/index.html": "dir index\n",
		"plain/x.css": "p { a:b }", "plain/y.unknown": "?", "nodir/.keep": "",
	}
	// nginx's workers run as "nobody": the directories must be readable
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	mtime := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
	}
	return dir
}
