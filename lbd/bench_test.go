package lbd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"halab/internal/gobuild"
	"halab/internal/wrkbench"
)

// benchDuration bounds each wrk run.
const benchDuration = 2 * time.Second

// BenchmarkHAProxyVsLBD puts Debian's haproxy and lbd (as a separate
// process, like haproxy) in front of the same two loopback app servers
// with the article's backend, and drives each with wrk at 50 connections
// in the loads of benchCases. It reports requests per second and p99
// latency.
// Each case runs in rounds of benchDuration per implementation, whatever
// b.N is (see wrkbench.Compare).
//
// The balancer and wrk each run in a session of their own, as the lab
// starts its processes and as a service runs in a cgroup of its own: with
// the kernel's autogroups, CPU is then shared between the processes, not
// between their threads. In the benchmark's own session haproxy's second
// thread doubled its share against lbd's one loop: lbd read 0.87–1.01
// there, 1.06–1.31 in sessions of their own (two runs each).
func BenchmarkHAProxyVsLBD(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed")
	}
	if _, err := os.Stat(haproxyBin); err != nil {
		b.Skip("haproxy is not installed")
	}
	dir := b.TempDir()
	lbdBin := filepath.Join(gobuild.ForTest(b, "../cmd/lbd"), "lbd")
	var apps []string
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := r.Cookie("JSESSIONID"); err != nil {
				w.Header().Add("Set-Cookie", "JSESSIONID=0123456789abcdef")
			}
			w.Write([]byte("hello from the app\n"))
		})}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		apps = append(apps, ln.Addr().String())
	}
	loads := benchLoads(b, dir)
	wrkbench.Compare(b, [2]string{"haproxy", "lbd"}, benchCases, func(cs, impl string) wrkbench.Result {
		listen := fmt.Sprintf("127.0.0.1:%d", freePortB(b))
		path := filepath.Join(dir, impl+".cfg")
		if err := os.WriteFile(path, []byte(benchConfig(listen, apps)), 0o644); err != nil {
			b.Fatal(err)
		}
		bin := haproxyBin
		if impl == "lbd" {
			bin = lbdBin
		}
		cmd := exec.Command(bin, "-db", "-f", path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
		}()
		waitPortB(b, listen)
		args := wrkbench.Args(50, benchDuration, loads[cs], "http://"+listen+"/")
		ctx, cancel := context.WithTimeout(context.Background(), benchDuration+30*time.Second)
		defer cancel()
		wc := exec.CommandContext(ctx, wrk, args[1:]...)
		wc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, err := wc.CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		return wrkbench.Parse(string(out))
	})
}

// benchCases are the load shapes, in report order: keep-alive, a new
// connection per request, and keep-alive with persistence cookies. In
// "cookie" each wrk thread carries the cookie of one app (App01, App02),
// as clients holding persistence cookies spread over the servers. In
// "cookie-one-app" every connection carries App01's: one app serves the
// whole load, and, on a shared machine, uses more CPU than the balancer.
var benchCases = []string{"keepalive", "close", "cookie", "cookie-one-app"}

// benchLoads returns each case's load; the cookie script is written to
// dir, where wrk can read it.
func benchLoads(b *testing.B, dir string) map[string]wrkbench.Load {
	script := filepath.Join(dir, "cookies.lua")
	cookies := []string{"JSESSIONID=app01~0123456789abcdef", "JSESSIONID=app02~0123456789abcdef"}
	if err := os.WriteFile(script, []byte(wrkbench.ThreadCookies(cookies)), 0o644); err != nil {
		b.Fatal(err)
	}
	return map[string]wrkbench.Load{
		"keepalive":      {},
		"close":          {Headers: []string{"Connection: close"}},
		"cookie":         {Script: script},
		"cookie-one-app": {Headers: []string{"Cookie: " + cookies[0]}},
	}
}

func benchConfig(listen string, apps []string) string {
	return `defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend HTTP-Service
bind ` + listen + `
default_backend HTTP-Service
backend HTTP-Service
balance roundrobin
cookie JSESSIONID prefix nocache
http-response replace-value Set-Cookie (.*) \1;\ HttpOnly;
http-response replace-value Set-Cookie (.*) \1;\ Secure
server App01 ` + apps[0] + ` cookie app01 weight 100
server App02 ` + apps[1] + ` cookie app02 weight 100
`
}

func freePortB(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPortB(b *testing.B, addr string) {
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	b.Fatalf("nothing listens on %s", addr)
}
