package proxyd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"halab/internal/gobuild"
	"halab/internal/wrkbench"
	"halab/lab"
)

// benchDuration bounds each wrk run in the lab benchmark.
const benchDuration = 2 * time.Second

// labBenchConf is the article's site (ip_hash over app01 and app02) as the
// whole configuration, with nginx's defaults otherwise; {{WORKERS}} is the
// worker_processes setting.
const labBenchConf = `worker_processes {{WORKERS}};
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events { worker_connections 4096; }
http {
	log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
	                  '$status $body_bytes_sent "$http_referer" '
	                  '"$http_user_agent" "$http_x_forwarded_for"';
	access_log /var/log/nginx/access.log main;
` + labSite + `}
`

// benchTopology is the lab of the article-site test with more ephemeral
// ports and TIME_WAIT reuse on the client and the proxy: a run without
// keep-alive opens some 10,000 connections a second on each side, which
// would otherwise exhaust the ports of later runs.
var benchTopology = strings.NewReplacer(
	"name: px1", "name: px1b",
	"    role: client\n", "    role: client\n"+benchSysctls,
	"    role: proxy\n", "    role: proxy\n"+benchSysctls,
).Replace(labTopology)

const benchSysctls = `    sysctls:
      net.ipv4.ip_local_port_range: "1024 65535"
      net.ipv4.tcp_tw_reuse: "1"
`

// BenchmarkLabNginxVsProxyd is the benchmark: wrk on the client
// node, the proxy node running Debian's nginx then proxyd with the same
// configuration (the article's site), labapp on two app nodes. 50
// connections with and without keep-alive, with worker_processes 1 (the
// article's nginx.conf) and auto; each case in rounds, medians and
// per-round ratios reported (see wrkbench.Compare). Then the resident
// memory of each with 1,000 idle keep-alive connections from the client
// node.
func BenchmarkLabNginxVsProxyd(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("lab benchmarks need root")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed")
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		b.Skip("nginx is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	_ = lab.Down(ctx, "px1b")
	topo, err := lab.ParseTopology("px1b.yaml", []byte(benchTopology))
	if err != nil {
		b.Fatal(err)
	}
	l, err := lab.Up(ctx, topo)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Down(context.Background())
	shared := l.SharedDir()
	if err := gobuild.Build(shared+"/", "halab/cmd/labapp", "halab/cmd/proxyd"); err != nil {
		b.Fatal(err)
	}
	confs := map[string]string{}
	for _, w := range []string{"1", "auto"} {
		confs[w] = filepath.Join(shared, "nginx-"+w+".conf")
		if err := os.WriteFile(confs[w], []byte(strings.ReplaceAll(labBenchConf, "{{WORKERS}}", w)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, app := range []string{"app01", "app02"} {
		if _, err := l.MustNode(app).Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(shared, "labapp"), "-listen", ":80"}}); err != nil {
			b.Fatal(err)
		}
	}
	client, proxy := l.MustNode("client"), l.MustNode("nginx01")
	bins := map[string]string{"nginx": "/usr/sbin/nginx", "proxyd": filepath.Join(shared, "proxyd")}
	// start runs one implementation until the returned stop is called.
	start := func(impl, workers string) (*lab.Process, func()) {
		p, err := proxy.Start(ctx, lab.ProcSpec{Name: impl, Args: []string{bins[impl], "-c", confs[workers], "-g", "daemon off;"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := wrkbench.WaitListening(ctx, client, "10.0.1.11:80"); err != nil {
			b.Fatalf("%s: %v", impl, err)
		}
		return p, func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			_ = p.Stop(sctx)
		}
	}
	// case names: LOAD-wWORKERS
	headers := map[string][]string{
		"keepalive": {"Host: www.example.com"},
		"close":     {"Host: www.example.com", "Connection: close"},
	}
	cases := []string{"keepalive-w1", "close-w1", "keepalive-wauto", "close-wauto"}
	wrkbench.Compare(b, [2]string{"nginx", "proxyd"}, cases, func(cs, impl string) wrkbench.Result {
		load, workers, _ := strings.Cut(cs, "-w")
		p, stop := start(impl, workers)
		defer stop()
		r, err := wrkbench.RunIn(ctx, client, p.PID(), 50, benchDuration, wrkbench.Load{Headers: headers[load]}, "http://10.0.1.11/")
		if err != nil {
			b.Fatal(err)
		}
		return r
	})
	for _, impl := range []string{"nginx", "proxyd"} {
		b.Run("idle1000/"+impl, func(b *testing.B) {
			p, stop := start(impl, "1")
			defer stop()
			conns, err := idleConns(client, "10.0.1.11:80", 1000)
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			if err != nil {
				b.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			b.ReportMetric(float64(wrkbench.TreeRSS(p.PID()))/1024, "RSS-MiB")
		})
	}
}

// idleConns opens n connections from node to addr, each after one request
// so the proxy holds it as an idle keep-alive connection.
func idleConns(node *lab.Node, addr string, n int) ([]net.Conn, error) {
	var conns []net.Conn
	err := node.Do(func() error {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
			if err != nil {
				return err
			}
			conns = append(conns, c)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
				return err
			}
			br := bufio.NewReader(c)
			res, err := readHead(br)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			if _, err := io.CopyN(io.Discard, br, res); err != nil {
				return err
			}
			_ = c.SetDeadline(time.Time{})
		}
		return nil
	})
	return conns, err
}

// readHead reads a response head and returns its Content-Length.
func readHead(br *bufio.Reader) (int64, error) {
	var length int64 = -1
	for first := true; ; first = false {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		line = strings.TrimRight(line, "\r\n")
		if first {
			if !strings.HasPrefix(line, "HTTP/1.1 200") {
				return 0, fmt.Errorf("status %q", line)
			}
			continue
		}
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			if _, err := fmt.Sscan(strings.TrimSpace(v), &length); err != nil {
				return 0, err
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("no Content-Length")
	}
	return length, nil
}
