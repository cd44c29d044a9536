package proxyd

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/internal/wrkbench"
	"halab/proxyd/config"
)

// benchConf is the article's site on loopback for the load comparison.
const benchConf = `
worker_processes auto;
daemon off;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log;
events { worker_connections 4096; }
http {
	log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
	                  '$status $body_bytes_sent "$http_referer" '
	                  '"$http_user_agent" "$http_x_forwarded_for"';
	access_log {{DIR}}/access.log main;
	upstream myapp1 { ip_hash; server {{APP1}}; server {{APP2}}; }
	server {
		listen {{LISTEN}};
		server_name www.example.com;
		location / {
			proxy_set_header Host $host;
			proxy_set_header X-Real-IP $remote_addr;
			allow all;
			proxy_pass http://myapp1;
		}
	}
}
`

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("PROXYD_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 3 * time.Second
}

// startProcess runs a proxy binary with conf and returns its PID and listen
// address; the process is stopped when the benchmark ends. It runs in a
// session of its own, as a service in a cgroup of its own: the kernel's
// autogroups then share CPU between it and the benchmark's load by
// process, not by thread (see lbd's BenchmarkHAProxyVsLBD).
func startProcess(b *testing.B, bin string, args []string, addr string) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
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
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("%s never listened on %s", bin, addr)
	return nil
}

func buildProxyd(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "proxyd")
	require.NoError(b, gobuild.Build(bin, "halab/cmd/proxyd"))
	return bin
}

// benchBackend is a minimal keep-alive HTTP app for the load test.
func benchBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello from the app\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// loadResult is what one load run measured.
type loadResult struct {
	requests int
	errors   int
	rps      float64
	p50, p99 time.Duration
}

// runLoad drives conns connections at addr for d, each sending requests
// back to back, on one connection (keep-alive) or a new one each time.
func runLoad(addr string, conns int, keepAlive bool, d time.Duration) loadResult {
	reqText := "GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\n\r\n"
	if !keepAlive {
		reqText = "GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\nConnection: close\r\n\r\n"
	}
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			e := 0
			var c net.Conn
			var br *bufio.Reader
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if c == nil {
					var err error
					c, err = net.DialTimeout("tcp", addr, 2*time.Second)
					if err != nil {
						e++
						time.Sleep(10 * time.Millisecond)
						continue
					}
					br = bufio.NewReader(c)
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				ok := false
				if _, err := io.WriteString(c, reqText); err == nil {
					if res, err := readResponseHead(br, "GET"); err == nil && res.status == 200 {
						if _, err := io.Copy(io.Discard, res.bodyReader(br, "GET")); err == nil {
							ok = true
						}
					}
				}
				if !ok {
					e++
				} else {
					lat = append(lat, time.Since(t0))
				}
				if !ok || !keepAlive {
					_ = c.Close()
					c = nil
				}
			}
			if c != nil {
				_ = c.Close()
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := loadResult{requests: len(all), errors: errs, rps: float64(len(all)) / d.Seconds()}
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	return r
}

// BenchmarkNginxVsProxyd runs the article's site in Debian's nginx and in
// proxyd (as separate processes, worker_processes auto) on loopback and
// drives 50 connections for PROXYD_BENCH_SECONDS (default 3) per case,
// with and without client keep-alive. Figures: req/s, p50 and p99.
func BenchmarkNginxVsProxyd(b *testing.B) {
	if _, err := os.Stat(nginxBin); err != nil {
		b.Skip("nginx not installed")
	}
	dir := b.TempDir()
	bin := buildProxyd(b, dir)
	app1, app2 := benchBackend(b), benchBackend(b)
	for _, kind := range []string{"nginx", "proxyd"} {
		for _, ka := range []bool{true, false} {
			name := fmt.Sprintf("%s/keepalive=%v", kind, ka)
			b.Run(name, func(b *testing.B) {
				rdir := filepath.Join(dir, strings.ReplaceAll(name, "/", "-"))
				require.NoError(b, os.MkdirAll(rdir, 0o755))
				addr := freePortB(b)
				conf := filepath.Join(rdir, "nginx.conf")
				require.NoError(b, os.WriteFile(conf, []byte(render(benchConf, map[string]string{
					"DIR": rdir, "LISTEN": addr, "APP1": app1, "APP2": app2})), 0o644))
				var cmd *exec.Cmd
				if kind == "nginx" {
					cmd = startProcess(b, nginxBin, []string{"-p", rdir + "/", "-c", conf}, addr)
				} else {
					cmd = startProcess(b, bin, []string{"-p", rdir + "/", "-c", conf}, addr)
				}
				runLoad(addr, 10, ka, 300*time.Millisecond) // warm up
				cpu0 := wrkbench.TreeCPU(cmd.Process.Pid)
				b.ResetTimer()
				r := runLoad(addr, 50, ka, benchSeconds())
				b.StopTimer()
				if r.requests > 0 {
					// CPU time of the proxy per request: a figure less
					// sensitive than req/s to other load on the machine
					cpu := wrkbench.TreeCPU(cmd.Process.Pid) - cpu0
					b.ReportMetric(float64(cpu.Microseconds())/float64(r.requests), "cpu-us/req")
				}
				b.ReportMetric(r.rps, "req/s")
				b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(r.errors), "errors")
			})
		}
	}
}

// BenchmarkIdleRSS opens 1000 idle keep-alive connections to nginx and to
// proxyd and reports the resident memory of all their processes.
func BenchmarkIdleRSS(b *testing.B) {
	if _, err := os.Stat(nginxBin); err != nil {
		b.Skip("nginx not installed")
	}
	dir := b.TempDir()
	bin := buildProxyd(b, dir)
	app := benchBackend(b)
	for _, kind := range []string{"nginx", "proxyd"} {
		b.Run(kind, func(b *testing.B) {
			rdir := filepath.Join(dir, "rss-"+kind)
			require.NoError(b, os.MkdirAll(rdir, 0o755))
			addr := freePortB(b)
			conf := filepath.Join(rdir, "nginx.conf")
			require.NoError(b, os.WriteFile(conf, []byte(render(benchConf, map[string]string{
				"DIR": rdir, "LISTEN": addr, "APP1": app, "APP2": app})), 0o644))
			var cmd *exec.Cmd
			if kind == "nginx" {
				cmd = startProcess(b, nginxBin, []string{"-p", rdir + "/", "-c", conf}, addr)
			} else {
				cmd = startProcess(b, bin, []string{"-p", rdir + "/", "-c", conf}, addr)
			}
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			for i := 0; i < 1000; i++ {
				c, err := net.Dial("tcp", addr)
				require.NoError(b, err)
				conns = append(conns, c)
				// one request each so the connection is a kept-alive one
				_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
				br := bufio.NewReader(c)
				res, err := readResponseHead(br, "GET")
				require.NoError(b, err)
				_, _ = io.Copy(io.Discard, res.bodyReader(br, "GET"))
			}
			time.Sleep(500 * time.Millisecond)
			b.ReportMetric(float64(wrkbench.TreeRSS(cmd.Process.Pid))/1024, "RSS-MiB")
		})
	}
}

func freePortB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// BenchmarkProxydInProcess drives an in-process proxyd with the same
// load, for profiling (go test -bench InProcess -cpuprofile cpu.out).
func BenchmarkProxydInProcess(b *testing.B) {
	dir := b.TempDir()
	app1, app2 := benchBackend(b), benchBackend(b)
	addr := freePortB(b)
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(b, os.WriteFile(conf, []byte(render(benchConf, map[string]string{
		"DIR": dir, "LISTEN": addr, "APP1": app1, "APP2": app2})), 0o644))
	cfg, err := config.Load(conf, config.Options{Prefix: dir + "/"})
	require.NoError(b, err)
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(b, err)
	b.Cleanup(srv.Close)
	b.ResetTimer()
	r := runLoad(addr, 50, os.Getenv("PROXYD_BENCH_CLOSE") == "", benchSeconds())
	b.ReportMetric(r.rps, "req/s")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
}
