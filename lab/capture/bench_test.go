package capture

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// Benchmarks of capture under load on one veth pair (run as root):
//
//	go test -run '^$' -bench Capture -benchtime 2s ./lab/capture/
//
// Each sends a bounded load from namespace A to B and reports the load's
// rate; with a capture on B's end it also reports packets captured per
// second and the kernel's drops.

type benchMode struct {
	name                  string
	capture, decode, pcap bool
	snaplen               int
}

var benchModes = []benchMode{
	{name: "no-capture"},
	{name: "capture", capture: true},
	{name: "capture+decode", capture: true, decode: true},
	{name: "capture+pcap", capture: true, pcap: true},
	{name: "capture+pcap+snaplen256", capture: true, pcap: true, snaplen: 256},
}

// startBenchCapture starts the capture of a mode on B's end (nil for
// no-capture) and returns a function stopping it and reporting metrics.
func startBenchCapture(b *testing.B, v *vethNet, m benchMode, ring int) func(elapsed time.Duration) {
	if !m.capture {
		return func(time.Duration) {}
	}
	spec := Spec{Node: "b", Iface: "veth1", NetNS: v.pathB, Discard: true, RingSize: ring, Snaplen: m.snaplen}
	if m.pcap {
		spec.PcapPath = filepath.Join(b.TempDir(), "bench.pcap")
	}
	var drained chan struct{}
	if m.decode {
		out := make(chan Packet, 256)
		spec.Out = out
		drained = make(chan struct{})
		go func() {
			defer close(drained)
			for range out {
			}
		}()
		c, err := Start(context.Background(), spec)
		if err != nil {
			b.Fatal(err)
		}
		return func(elapsed time.Duration) {
			st, _ := c.Stop()
			close(out)
			<-drained
			reportCapture(b, st, elapsed)
		}
	}
	c, err := Start(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	return func(elapsed time.Duration) {
		st, _ := c.Stop()
		reportCapture(b, st, elapsed)
	}
}

func reportCapture(b *testing.B, st Stats, elapsed time.Duration) {
	b.ReportMetric(float64(st.Captured)/elapsed.Seconds(), "captured/s")
	b.ReportMetric(float64(st.Dropped), "dropped")
	if total := st.Captured + st.Dropped; total > 0 {
		b.ReportMetric(100*float64(st.Dropped)/float64(total), "loss-%")
	}
}

// BenchmarkCaptureUDPFlood sends b.N small UDP datagrams as fast as one
// sender can, with and without capture.
func BenchmarkCaptureUDPFlood(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			v := newVethNet(b)
			uc := benchUDP(b, v)
			stop := startBenchCapture(b, v, m, 0)
			payload := make([]byte, 64)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := uc.Write(payload); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "load-pkts/s")
			time.Sleep(100 * time.Millisecond) // let the ring drain before stopping
			stop(elapsed)
		})
	}
}

// BenchmarkCapturePaced sends UDP datagrams at fixed rates for about the
// bench time; "dropped" 0 at a rate means the capture keeps up losslessly
// at that rate (with decoding, as a live trace does).
func BenchmarkCapturePaced(b *testing.B) {
	for _, rate := range []int{20000, 50000, 100000, 200000} {
		b.Run(time.Duration(int(time.Second)/rate).String()+"-per-pkt", func(b *testing.B) {
			v := newVethNet(b)
			uc := benchUDP(b, v)
			stop := startBenchCapture(b, v, benchMode{capture: true, decode: true}, 0)
			payload := make([]byte, 64)
			interval := time.Second / time.Duration(rate)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if i%100 == 0 {
					if ahead := time.Until(start.Add(time.Duration(i) * interval)); ahead > 0 {
						time.Sleep(ahead)
					}
				}
				if _, err := uc.Write(payload); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "load-pkts/s")
			time.Sleep(100 * time.Millisecond)
			stop(elapsed)
		})
	}
}

// BenchmarkCaptureTCP streams b.N 64 KiB writes over one TCP connection,
// with and without capture: the MB/s column is the load's throughput.
func BenchmarkCaptureTCP(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			v := newVethNet(b)
			var ln net.Listener
			if err := in(v.nsB, func() (err error) { ln, err = net.Listen("tcp4", "10.77.0.2:9000"); return err }); err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
			var c net.Conn
			if err := in(v.nsA, func() (err error) { c, err = net.Dial("tcp4", "10.77.0.2:9000"); return err }); err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			stop := startBenchCapture(b, v, m, 16<<20)
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			time.Sleep(100 * time.Millisecond)
			stop(elapsed)
		})
	}
}

func benchUDP(b *testing.B, v *vethNet) net.Conn {
	ul, err := udpListener(v.nsB, "10.77.0.2:6000")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ul.Close() })
	uc, err := udpConn(v.nsA, "10.77.0.2:6000")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = uc.Close() })
	return uc
}
