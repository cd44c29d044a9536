package proxyd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/proxyd/config"
)

const nginxBin = "/usr/sbin/nginx"

// freePort returns a TCP port free on ip at the time of the call.
func freePort(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// proxyRun is nginx or proxyd serving a configuration in its own dir.
type proxyRun struct {
	kind string // "nginx" or "proxyd"
	addr string
	dir  string
	srv  *Server
}

// render fills a config template: {{LISTEN}}, {{DIR}} and extra keys.
func render(tpl string, vars map[string]string) string {
	for k, v := range vars {
		tpl = strings.ReplaceAll(tpl, "{{"+k+"}}", v)
	}
	return tpl
}

func startNginx(t *testing.T, tpl string, vars map[string]string) *proxyRun {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		t.Skip("nginx not installed")
	}
	r := &proxyRun{kind: "nginx", dir: t.TempDir(), addr: freePort(t, "127.0.0.1")}
	conf := filepath.Join(r.dir, "nginx.conf")
	v := map[string]string{"LISTEN": r.addr, "DIR": r.dir}
	for k, x := range vars {
		v[k] = x
	}
	require.NoError(t, os.WriteFile(conf, []byte(render(tpl, v)), 0o644))
	cmd := exec.Command(nginxBin, "-p", r.dir+"/", "-c", conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	waitListening(t, r.addr, &stderr)
	return r
}

func startProxyd(t *testing.T, tpl string, vars map[string]string) *proxyRun {
	t.Helper()
	r := &proxyRun{kind: "proxyd", dir: t.TempDir(), addr: freePort(t, "127.0.0.1")}
	conf := filepath.Join(r.dir, "nginx.conf")
	v := map[string]string{"LISTEN": r.addr, "DIR": r.dir, "LPORT": r.addr[strings.LastIndex(r.addr, ":")+1:]}
	for k, x := range vars {
		v[k] = x
	}
	require.NoError(t, os.WriteFile(conf, []byte(render(tpl, v)), 0o644))
	cfg, err := config.Load(conf, config.Options{Prefix: r.dir + "/"})
	require.NoError(t, err)
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	r.srv = srv
	t.Cleanup(srv.Close)
	waitListening(t, r.addr, nil)
	return r
}

func waitListening(t *testing.T, addr string, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	msg := ""
	if stderr != nil {
		msg = stderr.String()
	}
	t.Fatalf("%s never listened: %s", addr, msg)
}

// accessLog returns the lines of a log file in the run's dir with the
// [time] field blanked.
func (r *proxyRun) logLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		return nil
	}
	timeRe := regexp.MustCompile(`\[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]`)
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if l != "" {
			out = append(out, timeRe.ReplaceAllString(l, "[TIME]"))
		}
	}
	return out
}

// clientResp is a response as a client saw it.
type clientResp struct {
	statusLine string
	headers    []string // "Name: value" in order, Date removed
	body       string
	err        string
}

func (c *clientResp) String() string {
	if c.err != "" {
		return "error: " + c.err
	}
	return c.statusLine + "\n" + strings.Join(c.headers, "\n") + "\n\n" + c.body
}

// exchangeRaw sends raw requests on one connection from source IP src and
// reads one response per request (fewer if the connection closes).
func exchangeRaw(addr, src string, raws []string, methods []string) []*clientResp {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return []*clientResp{{err: err.Error()}}
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var out []*clientResp
	for i, raw := range raws {
		_ = c.SetDeadline(time.Now().Add(8 * time.Second))
		if _, err := io.WriteString(c, raw); err != nil {
			out = append(out, &clientResp{err: "write: " + err.Error()})
			break
		}
		res, err := readResponseHead(br, methods[i])
		if errors.Is(err, syscall.ECONNRESET) {
			// a request written after the server closed: whether the
			// reset or the end is read first is the client's timing
			err = errUpstreamClosed
		}
		if err != nil {
			out = append(out, &clientResp{err: "read: " + err.Error()})
			break
		}
		cr := &clientResp{statusLine: res.statusLine}
		for _, h := range res.headers {
			if strings.EqualFold(h.name, "Date") {
				continue
			}
			cr.headers = append(cr.headers, h.name+": "+h.value)
		}
		body, err := io.ReadAll(res.bodyReader(br, methods[i]))
		if err != nil {
			cr.err = "body: " + err.Error()
		}
		cr.body = string(res.http09) + string(body)
		out = append(out, cr)
	}
	return out
}

// methodOf returns the method of a raw request.
func methodOf(raw string) string {
	m, _, _ := strings.Cut(raw, " ")
	return m
}

func diffLines(a, b []string) string {
	var sb strings.Builder
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "line %d:\n  nginx:  %q\n  proxyd: %q\n", i+1, x, y)
		}
	}
	return sb.String()
}
