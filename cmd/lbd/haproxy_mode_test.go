package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/internal/syncbuf"
)

func TestDetectSyntax(t *testing.T) {
	tests := []struct {
		text string
		want syntax
	}{
		{"global\n  daemon\nfrontend f *:80\n", syntaxHAProxy},
		{"# comment\n\ndefaults\nmode http\n", syntaxHAProxy},
		{"global_defs {\n router_id x\n}\n", syntaxKeepalived},
		{"! keepalived\nvirtual_server 10.0.0.1 80\n{\n delay_loop 6\n}\n", syntaxKeepalived},
		{"vrrp_instance lb_nginx {\ninterface enp0s3\n}\n", syntaxKeepalived},
		{"", syntaxUnknown},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, detectSyntax([]byte(tc.text)), tc.text)
	}
	assert.Equal(t, "a.cfg", firstConfigFile([]string{"-db", "-f", "a.cfg", "-f", "b.cfg"}))
	assert.Equal(t, "k.conf", firstConfigFile([]string{"--use-file=k.conf"}))
	assert.Equal(t, "x.cfg", firstConfigFile([]string{"-fx.cfg"}))
}

func TestParseHAProxyFlags(t *testing.T) {
	o, err := parseHAProxyFlags([]string{"-f", "a.cfg", "-f", "b.cfg", "-db", "-p", "/run/x.pid", "-sf", "12", "13", "-W", "-c"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a.cfg", "b.cfg"}, o.files)
	assert.True(t, o.foreground)
	assert.True(t, o.check)
	assert.Equal(t, "/run/x.pid", o.pidFile)
	assert.Equal(t, []int{12, 13}, o.finish)
	_, err = parseHAProxyFlags([]string{"-zz"})
	assert.Error(t, err)
	_, err = parseHAProxyFlags([]string{"-f"})
	assert.Error(t, err)
}

func TestCheckMode(t *testing.T) {
	var out, errb bytes.Buffer
	rc := runHAProxyWith([]string{"-c", "-f", "../../lbd/haproxycfg/testdata/article.cfg"}, &out, &errb, nil)
	assert.Equal(t, 0, rc, errb.String())
	// The legacy "frontend NAME ADDR" line earns a warning.
	assert.Equal(t, "Warnings were found.\nConfiguration file is valid\n", out.String())

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.cfg"), []byte("defaults\nmode http\ntimeout connect 1s\ntimeout server 1s\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.cfg"), []byte("backend b\nserver s 127.0.0.1:80\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c.txt"), []byte("garbage\n"), 0o644))
	out.Reset()
	rc = runHAProxyWith([]string{"-c", "-f", dir}, &out, &errb, nil)
	assert.Equal(t, 2, rc)
	assert.Equal(t, "Configuration file has no error but will not start (no listener) => exit(2).\n", out.String())

	unres := filepath.Join(dir, "unres.cfg")
	require.NoError(t, os.WriteFile(unres, []byte("backend b\nserver s nonexistent.invalid:80\n"), 0o644))
	errb.Reset()
	rc = runHAProxyWith([]string{"-c", "-f", unres}, &out, &errb, nil)
	assert.Equal(t, 1, rc)
	assert.Contains(t, errb.String(), ": config : ["+unres+":2] : 'server b/s' : could not resolve address 'nonexistent.invalid'.")
	assert.Contains(t, errb.String(), "Failed to initialize server(s) addr.")

	bad := filepath.Join(t.TempDir(), "bad.cfg")
	require.NoError(t, os.WriteFile(bad, []byte("frontend f\nbind 127.0.0.1:1\nfrobnicate 1\n"), 0o644))
	out.Reset()
	errb.Reset()
	rc = runHAProxyWith([]string{"-c", "-f", bad}, &out, &errb, nil)
	assert.Equal(t, 1, rc)
	assert.Empty(t, out.String())
	assert.Contains(t, errb.String(), "[ALERT]")
	assert.Contains(t, errb.String(), ": config : parsing ["+bad+":3] : unknown keyword 'frobnicate' in 'frontend' section")
	assert.Contains(t, errb.String(), "Fatal errors found in configuration.")
}

// binDir holds lbd, built once for this test binary (internal/gobuild).
var binDir string

func TestMain(m *testing.M) {
	os.Exit(gobuild.Main(m, true, &binDir, "."))
}

func buildLBD(t *testing.T) string {
	t.Helper()
	return filepath.Join(binDir, "lbd")
}

// slowApp answers after the delay given in ?sleep=, naming itself.
func slowApp(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		fmt.Fprintf(w, "%s gen=%s\n", name, r.Header.Get("X-Gen"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func cfgText(listen, app, gen string) string {
	return "defaults\nmode http\ntimeout connect 2s\ntimeout client 30s\ntimeout server 30s\n" +
		"frontend fe\nbind " + listen + "\nhttp-request set-header X-Gen " + gen + "\ndefault_backend be\n" +
		"backend be\nserver s1 " + app + "\n"
}

func fetch(addr, uri string) (string, error) {
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + uri)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

func waitListen(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

func startDaemon(t *testing.T, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	cmd := exec.Command(buildLBD(t), args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, logs
}

// TestReloadKeepsInFlight sends SIGHUP while a slow request is in flight:
// it completes on the old configuration, the next one sees the new one.
func TestReloadKeepsInFlight(t *testing.T) {
	dir := t.TempDir()
	app := slowApp(t, "app")
	listen := freeAddr(t)
	cfg := filepath.Join(dir, "haproxy.cfg")
	pidFile := filepath.Join(dir, "lbd.pid")
	require.NoError(t, os.WriteFile(cfg, []byte(cfgText(listen, app, "1")), 0o644))
	cmd, logs := startDaemon(t, "-db", "-f", cfg, "-p", pidFile)
	waitListen(t, listen)
	pid, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(cmd.Process.Pid)+"\n", string(pid))

	type res struct {
		body string
		err  error
	}
	slow := make(chan res, 1)
	go func() {
		b, err := fetch(listen, "/?sleep=1500ms")
		slow <- res{b, err}
	}()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, os.WriteFile(cfg, []byte(cfgText(listen, app, "2")), 0o644))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	time.Sleep(300 * time.Millisecond)
	b, err := fetch(listen, "/")
	require.NoError(t, err, logs.String())
	assert.Equal(t, "app gen=2", b)
	r := <-slow
	require.NoError(t, r.err)
	assert.Equal(t, "app gen=1", r.body)

	// A broken configuration keeps the running one.
	require.NoError(t, os.WriteFile(cfg, []byte("frontend x\nbogus\n"), 0o644))
	require.NoError(t, cmd.Process.Signal(syscall.SIGUSR2))
	time.Sleep(300 * time.Millisecond)
	b, err = fetch(listen, "/")
	require.NoError(t, err)
	assert.Equal(t, "app gen=2", b)

	// SIGUSR1: soft stop, the request in flight completes.
	go func() {
		b, err := fetch(listen, "/?sleep=800ms")
		slow <- res{b, err}
	}()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGUSR1))
	r = <-slow
	require.NoError(t, r.err)
	assert.Equal(t, "app gen=2", r.body)
	require.NoError(t, cmd.Wait())
	// The new configuration served three of the four requests.
	assert.Contains(t, logs.String(), "Proxy fe stopped (cumulated conns: FE: 3")
}

// TestSoftFinish starts a second lbd with -sf: it takes over the port and
// the first one finishes its request and exits.
func TestSoftFinish(t *testing.T) {
	dir := t.TempDir()
	app := slowApp(t, "app")
	listen := freeAddr(t)
	cfg1 := filepath.Join(dir, "1.cfg")
	cfg2 := filepath.Join(dir, "2.cfg")
	require.NoError(t, os.WriteFile(cfg1, []byte(cfgText(listen, app, "1")), 0o644))
	require.NoError(t, os.WriteFile(cfg2, []byte(cfgText(listen, app, "2")), 0o644))
	old, _ := startDaemon(t, "-db", "-f", cfg1)
	waitListen(t, listen)
	slow := make(chan string, 1)
	go func() {
		b, _ := fetch(listen, "/?sleep=1s")
		slow <- b
	}()
	time.Sleep(200 * time.Millisecond)
	startDaemon(t, "-db", "-f", cfg2, "-sf", strconv.Itoa(old.Process.Pid))
	assert.Equal(t, "app gen=1", <-slow)
	require.NoError(t, old.Wait())
	b, err := fetch(listen, "/")
	require.NoError(t, err)
	assert.Equal(t, "app gen=2", b)
}

// TestReloadUnderLoad reloads five times while clients keep requesting,
// with and without keep-alive: no request may fail.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	app := slowApp(t, "app")
	listen := freeAddr(t)
	cfg := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(cfgText(listen, app, "0")), 0o644))
	cmd, logs := startDaemon(t, "-db", "-f", cfg)
	waitListen(t, listen)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, failed int
	var firstErr error
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(keepAlive bool) {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + listen + "/?sleep=5ms")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					ok++
				}
				mu.Unlock()
			}
		}(i%2 == 0)
	}
	for gen := 1; gen <= 5; gen++ {
		time.Sleep(300 * time.Millisecond)
		require.NoError(t, os.WriteFile(cfg, []byte(cfgText(listen, app, strconv.Itoa(gen))), 0o644))
		require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	assert.Zero(t, failed, "first error: %v\n%s", firstErr, logs.String())
	assert.Greater(t, ok, 100)
	b, err := fetch(listen, "/")
	require.NoError(t, err)
	assert.Equal(t, "app gen=5", b)
	assert.Equal(t, 5, strings.Count(logs.String(), "Reload complete"))
}
