package l4

import (
	"bufio"
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
