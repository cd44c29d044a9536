package lbd

import (
	"context"
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

// BenchmarkLabHAProxyVsLBD is the benchmark: wrk on the client
// node, the balancer node running Debian's haproxy then lbd with the same
// configuration (the article's backend), labapp on two app nodes. 50
// connections, with and without keep-alive, and with persistence cookies
// (benchCases). Each case runs in rounds (see wrkbench.Compare).
func BenchmarkLabHAProxyVsLBD(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("lab benchmarks need root")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed")
	}
	if _, err := os.Stat(haproxyBin); err != nil {
		b.Skip("haproxy is not installed")
	}
	dir := gobuild.ForTest(b, "../cmd/lbd", "../cmd/labapp")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// more ephemeral ports and TIME_WAIT reuse where connections start:
	// runs without keep-alive open thousands of connections a second
	sysctls := `    sysctls:
      net.ipv4.ip_local_port_range: "1024 65535"
      net.ipv4.tcp_tw_reuse: "1"
`
	topo, err := lab.ParseTopology("lb1b.yaml", []byte(strings.NewReplacer(
		"name: lb1", "name: lb1b",
		"    role: client\n", "    role: client\n"+sysctls,
		"    role: balancer\n", "    role: balancer\n"+sysctls,
	).Replace(labTopology)))
	if err != nil {
		b.Fatal(err)
	}
	l, err := lab.Up(ctx, topo)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Down(context.Background())
	for _, app := range []string{"app01", "app02"} {
		if _, err := l.MustNode(app).Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(dir, "labapp"), "-listen", ":80"}}); err != nil {
			b.Fatal(err)
		}
	}
	cfg := filepath.Join(l.SharedDir(), "bench.cfg")
	if err := os.WriteFile(cfg, []byte(benchConfig("*:8080", []string{"10.0.2.11:80", "10.0.2.12:80"})), 0o644); err != nil {
		b.Fatal(err)
	}
	client, balancer := l.MustNode("client"), l.MustNode("haproxy01")
	loads := benchLoads(b, l.SharedDir())
	wrkbench.Compare(b, [2]string{"haproxy", "lbd"}, benchCases, func(cs, impl string) wrkbench.Result {
		bin := haproxyBin
		if impl == "lbd" {
			bin = filepath.Join(dir, "lbd")
		}
		p, err := balancer.Start(ctx, lab.ProcSpec{Name: impl + "-" + cs, Args: []string{bin, "-db", "-f", cfg}})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			p.Stop(sctx)
		}()
		if err := wrkbench.WaitListening(ctx, client, "10.0.1.31:8080"); err != nil {
			b.Fatalf("%s: %v", impl, err)
		}
		r, err := wrkbench.RunIn(ctx, client, p.PID(), 50, benchDuration, loads[cs], "http://10.0.1.31:8080/")
		if err != nil {
			b.Fatal(err)
		}
		return r
	})
}
