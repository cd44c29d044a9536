package config

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/proxyd/nginxconf"
)

// fakeResolver resolves a fixed set of names.
type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, errors.New("no such host")
}

var hosts = fakeResolver{"APP01": "10.0.2.11", "APP02": "10.0.2.12"}

// articleSite is the site config of the article, addresses filled in.
const articleSite = `server {
listen 80;
server_name www.example.com;
access_log /var/log/nginx/www.example.com_access.log main;
location / {
proxy_set_header Host $host;
proxy_set_header X-Real-IP $remote_addr;
allow all;
proxy_pass http://myapp1;
}
}
upstream myapp1 {
ip_hash;
server APP01:80;
server APP02:80;
}
`

// debianMain is a Debian-style nginx.conf that declares the "main" format
// as CentOS does.
const debianMain = `user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events {
	worker_connections 768;
	# multi_accept on;
}
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include mime.types;
	default_type application/octet-stream;
	ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
	ssl_prefer_server_ciphers on;
	log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
	                  '$status $body_bytes_sent "$http_referer" '
	                  '"$http_user_agent" "$http_x_forwarded_for"';
	access_log /var/log/nginx/access.log;
	gzip on;
	include conf.d/*.conf;
}
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	return dir
}

func TestArticleConfig(t *testing.T) {
	mime, err := os.ReadFile("/etc/nginx/mime.types")
	if err != nil {
		mime = []byte("types { text/html html; }\n")
	}
	dir := writeFiles(t, map[string]string{
		"nginx.conf":            debianMain,
		"mime.types":            string(mime),
		"conf.d/example.conf":   articleSite,
		"conf.d/ignored.conf.x": "bogus;",
	})
	cfg, err := Load(filepath.Join(dir, "nginx.conf"), Options{Resolve: hosts})
	require.NoError(t, err)
	assert.True(t, cfg.Daemon)
	assert.Equal(t, "/run/nginx.pid", cfg.PID)
	require.NotNil(t, cfg.HTTP)
	require.Len(t, cfg.HTTP.Servers, 1)
	srv := cfg.HTTP.Servers[0]
	assert.Equal(t, "0.0.0.0:80", srv.Listens[0].Addr.String())
	assert.Equal(t, "www.example.com", srv.FirstName())
	require.Len(t, srv.Locations, 1)
	loc := srv.Locations[0]
	assert.Equal(t, "/", loc.Path)
	require.NotNil(t, loc.ProxyPass)
	up := loc.ProxyPass.Upstream
	require.NotNil(t, up)
	assert.Equal(t, "myapp1", up.Name)
	assert.Equal(t, IPHash, up.Balance)
	require.Len(t, up.Servers, 2)
	assert.Equal(t, "10.0.2.11:80", up.Servers[0].Addrs[0].String())
	assert.Equal(t, 10*time.Second, up.Servers[1].FailTimeout)
	assert.Equal(t, []Header{{"Host", "$host"}, {"X-Real-IP", "$remote_addr"}}, loc.Settings.SetHeaders)
	assert.Equal(t, []AccessRule{{Allow: true, All: true}}, loc.Settings.Access)
	require.Len(t, loc.Settings.AccessLogs, 1)
	assert.Equal(t, "main", loc.Settings.AccessLogs[0].Format.Name)
	assert.Equal(t, "/var/log/nginx/www.example.com_access.log", loc.Settings.AccessLogs[0].Path)
	assert.Equal(t, "1.0", loc.Settings.HTTPVersion)
	assert.Equal(t, 60*time.Second, loc.Settings.ReadTimeout)
	assert.Equal(t, "myapp1", loc.ProxyPass.ProxyHost)
}

func TestInheritance(t *testing.T) {
	dir := writeFiles(t, map[string]string{"nginx.conf": `
events {}
http {
	proxy_set_header A 1;
	proxy_read_timeout 5s;
	access_log off;
	server {
		listen 127.0.0.1:8080 default_server;
		proxy_connect_timeout 2;
		location /a { proxy_pass http://127.0.0.1:9000/x/; }
		location /b { proxy_set_header B 2; proxy_read_timeout 1m30s; proxy_http_version 1.1; proxy_pass http://127.0.0.1:9000; }
	}
}`})
	cfg, err := Load(filepath.Join(dir, "nginx.conf"), Options{Prefix: dir})
	require.NoError(t, err)
	s := cfg.HTTP.Servers[0]
	a, bl := s.Locations[0], s.Locations[1]
	assert.Equal(t, []Header{{"A", "1"}}, a.Settings.SetHeaders)
	assert.Equal(t, []Header{{"B", "2"}}, bl.Settings.SetHeaders)
	assert.Equal(t, 5*time.Second, a.Settings.ReadTimeout)
	assert.Equal(t, 90*time.Second, bl.Settings.ReadTimeout)
	assert.Equal(t, 2*time.Second, bl.Settings.ConnectTimeout)
	assert.Empty(t, a.Settings.AccessLogs)
	assert.True(t, a.ProxyPass.HasURI)
	assert.Equal(t, "/x/", a.ProxyPass.URI)
	assert.Equal(t, "127.0.0.1:9000", a.ProxyPass.ProxyHost)
	assert.Same(t, a.ProxyPass.Upstream, bl.ProxyPass.Upstream)
	assert.True(t, s.Listens[0].DefaultServer)
	assert.Equal(t, filepath.Join(dir, "logs/x"), (&builder{opts: Options{Prefix: dir}}).path("logs/x"))
}

func TestErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{`http { foo bar; }`, `unknown directive "foo"`},
		{`http { server { proxy_read_timeout 1x; } }`, `"proxy_read_timeout" directive invalid value`},
		{`http { server { listen; } }`, `invalid number of arguments in "listen" directive`},
		{`http { server { location / { proxy_pass myapp1; } } }`, `invalid URL prefix`},
		{`http { server { error_log /tmp/x main; } }`, `invalid log level "main"`},
		{`http { proxy_pass http://a; }`, `"proxy_pass" directive is not allowed here`},
		{`http { server listen 80; }`, `directive "server" has no opening "{"`},
		{`http { server { listen 80 { } } }`, `directive "listen" is not terminated by ";"`},
		{`http { upstream u { server APP03:80; } }`, `host not found in upstream "APP03:80"`},
		{`http { upstream u { server 1.2.3.4 weight=0; } }`, `invalid parameter "weight=0"`},
		{`http { upstream u { ip_hash; server 1.2.3.4 backup; } }`, `balancing method does not support parameter "backup"`},
		{`http { server { proxy_read_timeout 5s; proxy_read_timeout 6s; } }`, `"proxy_read_timeout" directive is duplicate`},
		{`http { access_log /tmp/a nomain; }`, `unknown log format "nomain"`},
		{`http { server { location ~ "(" { } } }`, `pcre2_compile() failed: missing closing ) in "("`},
		{`http { server { return abc; } }`, `invalid return code "abc"`},
		{`http { server { allow 1.2.3.x; } }`, `invalid parameter "1.2.3.x"`},
		{`http { upstream u { server 1.2.3.4; } upstream u { server 1.2.3.5; } }`, `duplicate upstream "u"`},
		{`http { server { location / { proxy_pass http://nosuch; } } }`, `host not found in upstream "nosuch"`},
		{`http { server { location / { } location / { } } }`, `duplicate location "/"`},
		{`http { server { location ~ /x { proxy_pass http://1.2.3.4/y; } } }`, `"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block`},
		{`http { upstream u { server 1.2.3.4; } server { location / { proxy_pass http://u:80; } } }`, `upstream "u" may not have port 80`},
		{`http { server { listen 127.0.0.1:1 default_server; } server { listen 127.0.0.1:1 default_server; } }`, `a duplicate default server for 127.0.0.1:1`},
		{`master_process maybe;`, `invalid value "maybe" in "master_process" directive, it must be "on" or "off"`},
		{`http { server { listen 1.2.3.4:1 foo; } }`, `invalid parameter "foo"`},
		{`http { log_format main "$foo"; }`, `unknown "foo" variable`},
		{`http { upstream u { hash; } }`, `invalid number of arguments in "hash" directive`},
		{`http { server { proxy_next_upstream foo; } }`, `invalid value "foo"`},
		{`http { server { proxy_http_version 2.0; } }`, `invalid value "2.0"`},
		{`http { server { location / { return 200 "$foo"; } } }`, `unknown "foo" variable`},
		{`http { server { location /a { location /b {} } } }`, `location "/b" is outside location "/a"`},
		{`http { server { server_name a*b; } }`, `invalid server name or wildcard "a*b" on 0.0.0.0:80`},
		{`http { upstream u { } }`, `no servers are inside upstream`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			src := "daemon off;\nevents {}\n" + tt.body + "\n"
			tree, err := nginxconf.Parse("/x/nginx.conf", []byte(src), "/x")
			require.NoError(t, err)
			_, err = Build("/x/nginx.conf", tree, Options{Resolve: hosts})
			require.Error(t, err)
			var ce *nginxconf.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.want+" in /x/nginx.conf:3", ce.Nginx())
		})
	}
	_, err := Build("/x/nginx.conf", nil, Options{})
	require.EqualError(t, err, `no "events" section in configuration`)
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "500ms": 500 * time.Millisecond, "1m30s": 90 * time.Second, "2h": 2 * time.Hour,
	} {
		got, ok := parseTime(in)
		require.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "1x", "s"} {
		_, ok := parseTime(in)
		assert.False(t, ok, in)
	}
}

func TestParseTemplate(t *testing.T) {
	tpl, err := ParseTemplate("a$host:${server_port}x$1y")
	require.NoError(t, err)
	assert.Equal(t, Template{{Lit: "a"}, {Var: "host"}, {Lit: ":"}, {Var: "server_port"}, {Lit: "x"}, {Var: "1"}, {Lit: "y"}}, tpl)
	_, err = ParseTemplate("a${x")
	require.Error(t, err)
}

func FuzzBuild(f *testing.F) {
	f.Add("events {}\nhttp {\n" + articleSite + "}\n")
	f.Add(`events {} http { upstream u { hash $request_uri consistent; server 1.2.3.4 weight=2 max_fails=0 fail_timeout=1m; keepalive 4; }
server { listen 127.0.0.1:8080 default_server; server_name .a.test *.b.test c.* ~^d(\d+)$;
location = /x { return 301 /y; } location ^~ /s/ { proxy_pass http://u/t/; } location ~* \.png$ { deny 10.0.0.0/8; allow all; proxy_pass http://u; }
location / { proxy_set_header X $http_x; proxy_read_timeout 1m30s; proxy_next_upstream error http_503 non_idempotent; proxy_http_version 1.1; proxy_pass http://1.2.3.4:81; } } }`)
	f.Add("events {} http { log_format x escape=json '$remote_addr'; access_log off; types { text/html html; } }")
	f.Fuzz(func(t *testing.T, src string) {
		tree, err := nginxconf.Parse("/f/nginx.conf", []byte(src), "/nonexistent")
		if err != nil {
			return
		}
		cfg, err := Build("/f/nginx.conf", tree, Options{Resolve: hosts})
		if err != nil {
			var ce *nginxconf.Error
			if errors.As(err, &ce) {
				require.NotEmpty(t, ce.Msg)
			}
			return
		}
		require.NotNil(t, cfg)
		if cfg.HTTP != nil {
			for _, s := range cfg.HTTP.Servers {
				require.NotEmpty(t, s.Listens)
				require.NotNil(t, s.Settings)
			}
		}
	})
}
