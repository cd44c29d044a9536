package l4

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// BenchmarkL4NAT compares, in one run, HTTP requests from the client
// namespace through lbd's nftables NAT (VIP 10.66.1.100, rr over two real
// servers) with requests routed by the same director straight to one real
// server, without NAT. Every request opens a new TCP connection, the worst
// case for an L4 balancer (the NAT decision is taken per connection).
//
//	go test -run '^$' -bench BenchmarkL4NAT -benchtime 3s ./lbd/l4/
//
// Reported: req/s, and p50/p99 latency in microseconds.
func BenchmarkL4NAT(b *testing.B) {
	n := newTestNet(b)
	serveWho(b, n.rs1, n.RS1+":80", "rs1")
	serveWho(b, n.rs2, n.RS2+":80", "rs2")
	d, err := OpenDatapath(DatapathOptions{NetNSFd: int(n.directorFd)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	vip := netip.MustParseAddrPort(n.VIP + ":80")
	if err := d.Program([]ServiceSpec{{VIP: vip, Algo: AlgoRR}}, [][]Backend{{
		{netip.MustParseAddrPort(n.RS1 + ":80"), 1}, {netip.MustParseAddrPort(n.RS2 + ":80"), 1}}}); err != nil {
		b.Fatal(err)
	}
	clientNS, err := netns.GetFromName(n.client)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = clientNS.Close() })

	for _, tc := range []struct{ name, addr string }{
		{"direct", n.RS1 + ":80"},
		{"l4nat", vip.String()},
		{"direct-again", n.RS1 + ":80"}, // drift check: the first pass must match this one
	} {
		b.Run(tc.name, func(b *testing.B) { benchRequests(b, clientNS, tc.addr) })
	}
}

// benchRequests runs b.N requests to addr from the client namespace, on
// 4*GOMAXPROCS workers, each request on a new connection.
func benchRequests(b *testing.B, clientNS netns.NsHandle, addr string) {
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		// This goroutine's thread moves into the client namespace for good:
		// it is never unlocked, so the runtime discards it afterwards.
		runtime.LockOSThread()
		if err := netns.Set(clientNS); err != nil {
			b.Error(err)
			return
		}
		var mine []time.Duration
		buf := make([]byte, 4096)
		for pb.Next() {
			t0 := time.Now()
			if err := oneRequest(addr, buf); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds())
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func oneRequest(addr string, buf []byte) error {
	c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.CopyBuffer(io.Discard, resp.Body, buf); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// BenchmarkL4HealthConvergence measures, per op, how long a real server that
// dies (its listener closes: connections are refused) stays in the rotation
// as the client sees it, and how long it takes to come back once it listens
// again, with delay_loop 1s, connect_timeout 2s, retry 0. Each death comes
// right after the check that saw the previous recovery, so the figures are
// the worst case: a full delay_loop plus the (refused, hence quick) check.
//
//	go test -run '^$' -bench BenchmarkL4HealthConvergence -benchtime 5x ./lbd/l4/
func BenchmarkL4HealthConvergence(b *testing.B) {
	f := newDPFixture(b)
	conf := fmt.Sprintf(`virtual_server %s 80 {
 delay_loop 1
 lb_algo rr
 protocol TCP
 retry 0
 warmup 0
 real_server %s 80 {
  TCP_CHECK {
   connect_timeout 2
  }
 }
 real_server %s 80 {
  TCP_CHECK {
   connect_timeout 2
  }
 }
}
`, f.VIP, f.RS1, f.RS2)
	cfg, err := ParseConfig("bench.conf", []byte(conf))
	if err != nil {
		b.Fatal(err)
	}
	log, _ := testLogger()
	bal := NewBalancer(cfg, f.d, BalancerOptions{Dial: nsDial(b, f.director), Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bal.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	stop := f.stopRS1
	var leave, back time.Duration
	waitFor := func(cond func() bool) time.Duration {
		start := time.Now()
		for !cond() {
			if time.Since(start) > 30*time.Second {
				b.Fatal("no convergence within 30s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(start)
	}
	onlyRS2 := func() bool {
		for range 2 {
			if name, err := f.tryWho(b, ""); err != nil || name != "rs2" {
				return false
			}
		}
		return true
	}
	both := func() bool {
		a, err1 := f.tryWho(b, "")
		c, err2 := f.tryWho(b, "")
		return err1 == nil && err2 == nil && a != c
	}
	waitFor(both)
	b.ResetTimer()
	for range b.N {
		stop()
		leave += waitFor(onlyRS2)
		stop = serveWho(b, f.rs1, f.RS1+":80", "rs1")
		back += waitFor(both)
	}
	b.StopTimer()
	b.ReportMetric(float64(leave.Milliseconds())/float64(b.N), "ms-to-leave")
	b.ReportMetric(float64(back.Milliseconds())/float64(b.N), "ms-to-return")
}
