package proxyd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/internal/syncbuf"
	"halab/lab"
	"halab/lab/capture"
)

// The article's simple architecture, one reverse proxy: the client on the
// front LAN, nginx01 between front and back, app01 and app02 on back.
const labTopology = `
name: px1
lans: [front, back]
nodes:
  - name: client
    role: client
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.10/24]}
  - name: nginx01
    role: proxy
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.11/24]}
      - {name: eth1, lan: back, addresses: [10.0.2.11/24]}
  - name: app01
    role: app
    interfaces:
      - {name: eth0, lan: back, addresses: [10.0.2.21/24]}
  - name: app02
    role: app
    interfaces:
      - {name: eth0, lan: back, addresses: [10.0.2.22/24]}
`

// labMain is a Debian-style nginx.conf declaring the CentOS "main" format
// the article's site uses, including the site relatively.
const labMain = `user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events {
	worker_connections 768;
}
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	default_type application/octet-stream;
	log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
	                  '$status $body_bytes_sent "$http_referer" '
	                  '"$http_user_agent" "$http_x_forwarded_for"';
	access_log /var/log/nginx/access.log;
	gzip on;
	include conf.d/*.conf;
}
`

// labSite is the article's site with APP01 and APP02 filled in.
const labSite = `server {
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
server 10.0.2.21:80;
server 10.0.2.22:80;
}
`

type seen struct {
	App     string `json:"app"`
	Host    string `json:"host"`
	URI     string `json:"uri"`
	XRealIP string `json:"x_real_ip"`
	XFF     string `json:"x_forwarded_for"`
	PeerIP  string `json:"peer_ip"`
}

// TestLabArticleSite runs the article's site through proxyd inside a lab
// node with two app nodes behind it: Host and X-Real-IP reach the app,
// ip_hash keeps the client on one app (the one nginx's hash picks), the
// access log has the main format, a dead app fails over, and SIGHUP loads
// a changed configuration.
//
// The same scenario runs against Debian's nginx first, which checks that
// the expectations are nginx's.
func TestLabArticleSite(t *testing.T) {
	for _, impl := range []string{"nginx", "proxyd"} {
		t.Run(impl, func(t *testing.T) { testLabArticleSite(t, impl) })
	}
}

func testLabArticleSite(t *testing.T, impl string) {
	if testing.Short() {
		t.Skip("lab test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_ = lab.Down(ctx, "px1")
	topo, err := lab.ParseTopology("px1.yaml", []byte(labTopology))
	require.NoError(t, err)
	l, err := lab.Up(ctx, topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	shared := l.SharedDir()
	require.NoError(t, gobuild.Build(shared+"/", "halab/cmd/labapp", "halab/cmd/proxyd"))
	etc := filepath.Join(shared, "etc-nginx")
	require.NoError(t, os.MkdirAll(filepath.Join(etc, "conf.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "nginx.conf"), []byte(labMain), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "conf.d", "www.example.com.conf"), []byte(labSite), 0o644))

	apps := map[string]*lab.Process{}
	for _, n := range []string{"app01", "app02"} {
		p, err := l.MustNode(n).Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(shared, "labapp"), "-listen", ":80"}})
		require.NoError(t, err)
		apps[n] = p
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
	}
	proxy := l.MustNode("nginx01")
	out, err := proxy.Run(ctx, "mkdir", "-p", "/var/log/nginx")
	require.NoError(t, err, out)
	bin := filepath.Join(shared, "proxyd")
	if impl == "nginx" {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("nginx not installed")
		}
	}
	conf := filepath.Join(etc, "nginx.conf")
	out, err = proxy.Run(ctx, bin, "-t", "-c", conf)
	require.NoError(t, err, out)
	require.Contains(t, out, "test is successful")
	var stderr syncbuf.Buffer
	px, err := proxy.Start(ctx, lab.ProcSpec{Name: impl, Args: []string{bin, "-c", conf, "-g", "daemon off;"}, Stderr: &stderr})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			// what the daemon said, and its error log, for the reader
			errLog, _ := proxy.Run(context.Background(), "cat", "/var/log/nginx/error.log")
			t.Logf("%s stderr:\n%s\nerror.log:\n%s", impl, stderr.String(), errLog)
		}
		_ = px.Stop(context.Background())
	})

	client := l.MustNode("client")
	get := func(path string) (int, seen, error) {
		var s seen
		var status int
		err := client.Do(func() error {
			c, err := net.DialTimeout("tcp4", "10.0.1.11:80", 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: labtest\r\nConnection: close\r\n\r\n", path)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			status = res.StatusCode
			body, _ := io.ReadAll(res.Body)
			if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				return json.Unmarshal(body, &s)
			}
			return nil
		})
		return status, s, err
	}
	require.Eventually(t, func() bool {
		st, _, err := get("/")
		return err == nil && st == 200
	}, 15*time.Second, 100*time.Millisecond, "%s never answered", impl)

	// ip_hash on 10.0.1: hash 89 -> (89*113+10)%6271=3796 -> (3796*113+0)%6271=2520
	// -> (2520*113+1)%6271=2566; 2566 % total weight 2 = 0: the first server.
	for i := 0; i < 5; i++ {
		st, s, err := get(fmt.Sprintf("/page%d?x=%d", i, i))
		require.NoError(t, err)
		require.Equal(t, 200, st)
		assert.Equal(t, "app01", s.App)
		assert.Equal(t, "www.example.com", s.Host)
		assert.Equal(t, "10.0.1.10", s.XRealIP)
		assert.Equal(t, "", s.XFF)
		assert.Equal(t, "10.0.2.11", s.PeerIP)
		assert.Equal(t, fmt.Sprintf("/page%d?x=%d", i, i), s.URI)
	}
	// the line is written just after the response, as in nginx
	var last string
	require.Eventually(t, func() bool {
		logText, err := proxy.Run(ctx, "cat", "/var/log/nginx/www.example.com_access.log")
		lines := strings.Split(strings.TrimSpace(logText), "\n")
		last = lines[len(lines)-1]
		return err == nil && strings.Contains(last, "/page4")
	}, 5*time.Second, 20*time.Millisecond)
	assert.Regexp(t, `^10\.0\.1\.10 - - \[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /page4\?x=4 HTTP/1\.1" 200 \d+ "-" "labtest" "-"$`, last)

	// how the proxy ends a connection whose request asked to close, as
	// its front interface sees it: nginx sends the response, then a FIN;
	// proxyd's FIN rides on the response's last segment (a deliberate
	// difference, DIFFERENCES.md)
	g, err := capture.StartGroup(ctx, []capture.Spec{{Node: "nginx01", Iface: "eth0", NetNS: proxy.NetNSPath()}})
	require.NoError(t, err)
	defer g.Stop()
	st, _, err := get("/closing")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	var closing string
	for i := 0; closing == ""; i++ {
		require.Less(t, i, 50, "the closed connection is not in the capture")
		time.Sleep(100 * time.Millisecond)
		if conns := capture.Conns(g.Packets(), netip.MustParseAddr("10.0.1.11")); len(conns) > 0 {
			closing = conns[len(conns)-1].Closing()
		}
	}
	wantClosing := map[string]string{"nginx": "P.+data F.", "proxyd": "F.+data"}[impl]
	assert.Equal(t, wantClosing, closing)

	// app01 dies: the request fails over to app02 (error -> next upstream)
	require.NoError(t, apps["app01"].Stop(ctx))
	st, s, err := get("/after")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	assert.Equal(t, "app02", s.App)

	// SIGHUP with a changed site: a new location answers, the old ones still work
	site2 := strings.Replace(labSite, "location / {", "location = /health { return 200 \"ok\\n\"; }\nlocation / {", 1)
	require.NoError(t, os.WriteFile(filepath.Join(etc, "conf.d", "www.example.com.conf"), []byte(site2), 0o644))
	require.NoError(t, px.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		st, _, err := get("/health")
		return err == nil && st == 200
	}, 10*time.Second, 100*time.Millisecond, "reload not applied")
	st, s, err = get("/still")
	require.NoError(t, err)
	assert.Equal(t, 200, st)
	assert.Equal(t, "app02", s.App)

	// SIGQUIT: graceful stop, pid file removed
	require.NoError(t, px.Signal(syscall.SIGQUIT))
	select {
	case <-px.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not stop on SIGQUIT", impl)
	}
	out, _ = proxy.Run(ctx, "ls", "/run/nginx.pid")
	assert.Contains(t, out, "No such file")
}
