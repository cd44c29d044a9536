package wrkbench

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"halab/lab"
)

// WaitListening waits until a TCP connection from node to host:port
// succeeds, for about five seconds.
func WaitListening(ctx context.Context, node *lab.Node, hostport string) error {
	host, port, ok := cutHostPort(hostport)
	if !ok {
		return fmt.Errorf("bad address %q", hostport)
	}
	for i := 0; ; i++ {
		if _, err := node.Run(ctx, "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port); err == nil {
			return nil
		}
		if i > 100 {
			return fmt.Errorf("nothing listens on %s", hostport)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cutHostPort(hp string) (string, string, bool) {
	u, err := url.Parse("//" + hp)
	if err != nil || u.Hostname() == "" || u.Port() == "" {
		return "", "", false
	}
	return u.Hostname(), u.Port(), true
}

// RunIn runs wrk on node against rawURL with conns connections for d and
// load, and charges the CPU time the daemon pid (and its children) spent
// meanwhile to each request.
func RunIn(ctx context.Context, node *lab.Node, pid, conns int, d time.Duration, load Load, rawURL string) (Result, error) {
	cpu0 := TreeCPU(pid)
	out, err := node.Run(ctx, Args(conns, d, load, rawURL)...)
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	r := Parse(out)
	if n := r.RPS * d.Seconds(); n > 0 {
		r.CPUPerReq = float64((TreeCPU(pid) - cpu0).Microseconds()) / n
	}
	return r, nil
}
