package proxyd

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/proxyd/config"
	"halab/proxyd/nginxconf"
)

func loadServers(t *testing.T, http string) []*config.Server {
	t.Helper()
	tree, err := nginxconf.Parse("/t/nginx.conf", []byte("events {}\nhttp {\naccess_log off;\n"+http+"\n}\n"), "/t")
	require.NoError(t, err)
	cfg, err := config.Build("/t/nginx.conf", tree, config.Options{})
	require.NoError(t, err)
	return cfg.HTTP.Servers
}

func TestFindLocation(t *testing.T) {
	srv := loadServers(t, `server {
		location = / { return 200 exact-root; }
		location / { return 200 root; }
		location /documents/ { return 200 documents; }
		location ^~ /images/ { return 200 images; }
		location ~* \.(gif|jpg|jpeg)$ { return 200 pictures; }
		location /a/ {
			location ~ \.php$ { return 200 nested-php; }
			location ^~ /a/b/ { return 200 nested-noregex; }
			return 200 a;
		}
		location ~ ^/a/b/.*\.gif$ { return 200 outer-gif; }
		location /app/ { proxy_pass http://127.0.0.1:1; }
	}`)[0]
	// the first five rows are nginx's documentation example
	tests := []struct{ uri, want string }{
		{"/", "exact-root"},
		{"/index.html", "root"},
		{"/documents/document.html", "documents"},
		{"/images/1.gif", "images"},
		{"/documents/1.jpg", "pictures"},
		{"/DOCUMENTS/1.JPG", "pictures"},
		{"/a/x.php", "nested-php"},
		{"/a/x.html", "a"},
		{"/a/b/c.html", "nested-noregex"},
		// a nested ^~ does not stop the outer level's regexes
		{"/a/b/c.gif", "pictures"},
	}
	for _, tt := range tests {
		loc, _, _ := findLocation(srv.Locations, tt.uri, nil)
		require.NotNil(t, loc, tt.uri)
		assert.Equal(t, tt.want, loc.Return.Text, tt.uri)
	}
	loc, _, rc := findLocation(srv.Locations, "/app", nil)
	assert.Equal(t, locRedirect, rc)
	assert.Equal(t, "/app/", loc.Path)
}

func TestVirtualHosts(t *testing.T) {
	servers := loadServers(t, `
		server { listen 127.0.0.1:80; server_name first.test; }
		server { listen 127.0.0.1:80 default_server; server_name def.test; }
		server { listen 127.0.0.1:80; server_name *.example.com; }
		server { listen 127.0.0.1:80; server_name *.www.example.com; }
		server { listen 127.0.0.1:80; server_name mail.*; }
		server { listen 127.0.0.1:80; server_name ~^(?P<n>\d+)\.num\.test$ .dot.test; }
		server { listen 127.0.0.2:80; server_name only2.test; }
	`)
	v := buildVhosts(servers)
	h := v[servers[0].Listens[0].Addr]
	tests := []struct{ host, want string }{
		{"first.test", "first.test"},
		{"nobody", "def.test"},
		{"", "def.test"},
		{"a.example.com", "*.example.com"},
		{"a.www.example.com", "*.www.example.com"},
		{"example.com", "def.test"},
		{"mail.example.org", "mail.*"},
		{"42.num.test", "~^(?P<n>\\d+)\\.num\\.test$"},
		{"dot.test", "~^(?P<n>\\d+)\\.num\\.test$"}, // FirstName of that server
		{"x.dot.test", "~^(?P<n>\\d+)\\.num\\.test$"},
		{"only2.test", "def.test"},
	}
	for _, tt := range tests {
		s, _ := h.find(tt.host)
		assert.Equal(t, tt.want, s.FirstName(), tt.host)
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/", "/", true},
		{"/a//b", "/a/b", true},
		{"/a/./b/", "/a/b/", true},
		{"/a/../b", "/b", true},
		{"/a/b/..", "/a/", true},
		{"/%41%2fb", "/A/b", true},
		{"/..", "", false},
		{"/a/../../b", "", false},
		{"/%zz", "", false},
		{"/%00", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizePath(tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
		if ok {
			assert.Equal(t, tt.want, got, tt.in)
		}
	}
	assert.Equal(t, "/a%20b%3F%25%23%C3%A9", escapeURI("/a b?%#\xc3\xa9"))
}

func TestReadRequest(t *testing.T) {
	r, err := readRequest(bufio.NewReader(strings.NewReader(
		"\r\nGET http://Example.COM:8080/p/../q?x=1 HTTP/1.1\r\nHost: other\r\nX_Under: no\r\nX-A: 1\r\nConnection: close\r\n\r\n")))
	require.NoError(t, err)
	assert.Equal(t, "GET", r.method)
	assert.Equal(t, "example.com", r.host)
	assert.Equal(t, "/q", r.uri)
	assert.Equal(t, "x=1", r.args)
	assert.Equal(t, "/p/../q?x=1", r.unparsedURI)
	assert.False(t, r.keepAlive)
	assert.Equal(t, []header{{"Host", "other"}, {"X-A", "1"}, {"Connection", "close"}}, r.headers)

	bad := map[string]int{
		"GET / HTTP/1.1\r\n\r\n":                                                    400,
		"GET / HTTP/3.0\r\nHost: a\r\n\r\n":                                         505,
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n":              501,
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n":                   400,
		"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n": 494,
		"GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\n\r\n":                   414,
	}
	for raw, status := range bad {
		_, err := readRequest(bufio.NewReader(strings.NewReader(raw)))
		var he *httpError
		require.ErrorAs(t, err, &he, raw)
		assert.Equal(t, status, he.status, raw)
	}
	_, err = readRequest(bufio.NewReader(strings.NewReader("")))
	assert.ErrorIs(t, err, errIdleClose)
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x?y HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		"GET http://h:1/%2e%2e/x HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /a/../../b HTTP/1.1\r\n\r\n", "\r\n\r\n", "G",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := readRequest(bufio.NewReaderSize(strings.NewReader(string(data)), 4096))
		if err != nil {
			return
		}
		require.True(t, strings.HasPrefix(r.uri, "/"), r.uri)
		require.NotContains(t, r.uri, "//")
		require.NotContains(t, r.uri, "/../")
		require.NotEqual(t, "", r.method)
	})
}

func TestChunkedBody(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world"},
		{"5\nhello\n0\n\nNEXT", "hello"},
		{"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\nNEXT", "abc"},
		{"A \r\n0123456789\r\n0\r\n\r\nNEXT", "0123456789"},
	}
	for _, tt := range tests {
		br := bufio.NewReader(strings.NewReader(tt.in))
		got, err := io.ReadAll(&chunkedBody{br: br})
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, string(got))
		rest, _ := io.ReadAll(br)
		assert.Equal(t, "NEXT", string(rest), "reader left at the next message")
	}
	for _, bad := range []string{"x\r\n", "5\r\nhelloX\r\n", "5\r\nhel"} {
		_, err := io.ReadAll(&chunkedBody{br: bufio.NewReader(strings.NewReader(bad))})
		assert.Error(t, err, bad)
	}
}

func FuzzChunkedBody(f *testing.F) {
	for _, s := range []string{"5\r\nhello\r\n0\r\n\r\n", "5\nhello\n0\n\n", "3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n", "ffffffffffffffffff\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := io.ReadAll(&chunkedBody{br: bufio.NewReader(strings.NewReader(string(data)))})
		require.LessOrEqual(t, len(got), len(data))
		if err == nil && len(data) < 1<<16 {
			br := bufio.NewReaderSize(strings.NewReader(string(data)), 1<<16)
			_, _ = br.Peek(len(data))
			require.True(t, chunkedComplete(br), "a body the decoder accepts is complete")
		}
	})
}
