package l4

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeDatapath records what the balancer programs.
type fakeDatapath struct {
	mu       sync.Mutex
	backends [][]Backend
	updates  int
	failNext bool
}

func (f *fakeDatapath) Program(_ []ServiceSpec, b [][]Backend) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backends = b
	return nil
}

func (f *fakeDatapath) SetBackends(i int, b []Backend) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext {
		f.failNext = false
		return false, errors.New("netlink busy")
	}
	f.backends[i] = b
	f.updates++
	return true, nil
}

func (f *fakeDatapath) addrs(i int) []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.AddrPort
	if i >= len(f.backends) {
		return []netip.AddrPort{{}} // not programmed yet
	}
	for _, b := range f.backends[i] {
		out = append(out, b.Addr)
	}
	return out
}

// fakeNet answers health check dials: a target is up unless marked down.
type fakeNet struct {
	mu   sync.Mutex
	down map[string]bool
}

func (n *fakeNet) set(addr string, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down[addr] = down
}

func (n *fakeNet) dial(_ context.Context, _ netip.Addr, address string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down[address] {
		return nil, errors.New("connection refused")
	}
	c1, c2 := net.Pipe()
	_ = c2.Close()
	return c1, nil
}

func fastCheck(target string) *Check {
	return &Check{Kind: checkKindTCP, Target: ap(target), ConnectTimeout: time.Second, Retry: 1,
		DelayBeforeRetry: 5 * time.Millisecond, DelayLoop: 10 * time.Millisecond}
}

func TestBalancerFlapsAndSorry(t *testing.T) {
	cfg := &Config{Services: []*VirtualServer{{
		VIP: ap("10.0.0.100:80"), Algo: AlgoRR, Quorum: 1, Sorry: ap("10.0.3.5:80"),
		Reals: []*RealServer{
			{Addr: ap("10.0.2.11:80"), Weight: 1, Checks: []*Check{fastCheck("10.0.2.11:80")}},
			{Addr: ap("10.0.2.12:80"), Weight: 1, Checks: []*Check{fastCheck("10.0.2.12:80"), fastCheck("10.0.2.12:8081")}},
			{Addr: ap("10.0.2.13:80"), Weight: 1, Alpha: true, Checks: []*Check{fastCheck("10.0.2.13:80")}},
		},
	}}}
	dp := &fakeDatapath{}
	fnet := &fakeNet{down: map[string]bool{"10.0.2.13:80": true}}
	log, buf := testLogger()
	b := NewBalancer(cfg, dp, BalancerOptions{Dial: fnet.dial, Logger: log, RetryInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	rs1, rs2, rs3 := ap("10.0.2.11:80"), ap("10.0.2.12:80"), ap("10.0.2.13:80")
	eventually := func(want []netip.AddrPort, msg string) {
		t.Helper()
		require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, dp.addrs(0)) },
			5*time.Second, 5*time.Millisecond, "%s: have %v", msg, dp.addrs(0))
	}
	eventually([]netip.AddrPort{rs1, rs2}, "alpha server starts down")

	fnet.set("10.0.2.12:8081", true)
	eventually([]netip.AddrPort{rs1}, "one failing checker takes the server down")
	fnet.set("10.0.2.13:80", false)
	eventually([]netip.AddrPort{rs1, rs3}, "alpha server comes up")

	dp.mu.Lock()
	dp.failNext = true
	dp.mu.Unlock()
	fnet.set("10.0.2.11:80", true)
	fnet.set("10.0.2.13:80", true)
	eventually(nil, "all down: sorry server (no backends), after a failed update is retried")

	fnet.set("10.0.2.12:8081", false)
	eventually([]netip.AddrPort{rs2}, "quorum back")

	require.Eventually(t, func() bool {
		out := buf.String()
		for _, want := range []string{
			"TCP connection to [10.0.2.12]:tcp:8081 failed.",
			"TCP_CHECK on service [10.0.2.12]:tcp:8081 failed after 1 retries.",
			"Removing service [10.0.2.12]:tcp:80 from VS [10.0.0.100]:tcp:80",
			"TCP connection to [10.0.2.13]:tcp:80 success.",
			"Adding service [10.0.2.13]:tcp:80 to VS [10.0.0.100]:tcp:80",
			"Lost quorum 1-0=1 > 0 for VS [10.0.0.100]:tcp:80",
			"Adding sorry server [10.0.3.5]:tcp:80 to VS [10.0.0.100]:tcp:80",
			"Gained quorum 1+0=1 <= 1 for VS [10.0.0.100]:tcp:80",
			"Removing sorry server [10.0.3.5]:tcp:80 from VS [10.0.0.100]:tcp:80",
			"datapath update failed, will retry",
		} {
			if !strings.Contains(out, want) {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "log:\n%s", buf)
}
