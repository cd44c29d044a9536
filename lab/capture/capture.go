package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/afpacket"
)

// Spec says where and how to capture.
type Spec struct {
	Node  string // label of the node, shown in traces ("nginx01")
	Iface string // interface inside the namespace ("eth0")
	// NetNS is the path of the network namespace holding Iface, e.g.
	// /run/netns/<lab>-<node>. Empty means the caller's namespace.
	NetNS string
	// PcapPath, when set, receives every captured packet in pcap format
	// (nanosecond timestamps, Ethernet link type).
	PcapPath string
	// Snaplen cuts packets to this many bytes in the kernel, before they
	// take room in the ring (Packet.Len keeps the length on the wire); 0
	// keeps them whole. Headers and an HTTP request line fit in 256 bytes,
	// and a small snaplen lets bulk TCP traffic be captured without drops.
	Snaplen int
	// RingSize is the size in bytes of the kernel ring buffer; 0 means
	// 4 MiB. A larger ring absorbs longer bursts before the kernel drops.
	RingSize int
	// Discard stops the capture from keeping packets in memory (for long
	// or heavy captures that only write pcap files or feed Out).
	Discard bool
	// NoPromisc leaves the interface out of promiscuous mode.
	NoPromisc bool
	// Out, when set, receives every decoded packet. Sends block: a slow
	// reader slows the capture down until the kernel ring fills and drops
	// (which are counted), never dropping in this package. The receiver
	// must keep reading until the capture's Done channel is closed.
	Out chan<- Packet
	// Logger receives drop warnings; nil means slog.Default().
	Logger *slog.Logger
}

func (s Spec) label() string { return Label(s.Node, s.Iface) }

// Stats counts what a capture saw.
type Stats struct {
	Node, Iface string
	Captured    uint64 // packets read from the ring
	Bytes       uint64 // bytes of those packets on the wire
	// Dropped counts packets the kernel could not put in the ring
	// (PACKET_STATISTICS tp_drops): they are missing from the capture.
	Dropped uint64
	// QueueFreezes counts how often the ring was full (TPACKET_V3).
	QueueFreezes uint64
}

// DropError reports that a capture is incomplete because the kernel
// dropped packets.
type DropError struct{ Stats Stats }

func (e *DropError) Error() string {
	return fmt.Sprintf("capture %s: %d packets dropped by kernel (%d captured)",
		Label(e.Stats.Node, e.Stats.Iface), e.Stats.Dropped, e.Stats.Captured)
}

// Capture records packets on one interface. Its methods are safe for
// concurrent use.
type Capture struct {
	spec Spec
	sock *socket
	pcap *pcapFile
	log  *slog.Logger

	stopReq  chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	err      error // reader error, valid after done

	captured, bytes, dropped, freezes atomic.Uint64

	mu      sync.Mutex
	packets []Packet
	changed chan struct{} // closed and replaced when packets grows
}

// Start opens the socket in the spec's namespace and captures until ctx
// ends or Stop is called. The capture is running when Start returns:
// packets sent afterwards are recorded.
func Start(ctx context.Context, spec Spec) (*Capture, error) {
	if spec.Iface == "" {
		return nil, fmt.Errorf("capture %s: no interface given", spec.label())
	}
	sock, err := openSocket(spec)
	if err != nil {
		return nil, err
	}
	c := &Capture{
		spec:    spec,
		sock:    sock,
		log:     spec.Logger,
		stopReq: make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if spec.PcapPath != "" {
		if c.pcap, err = createPcap(spec.PcapPath, spec.Snaplen); err != nil {
			sock.tp.Close()
			return nil, fmt.Errorf("capture %s: %w", spec.label(), err)
		}
	}
	go c.run()
	go func() {
		select {
		case <-ctx.Done():
			c.requestStop()
		case <-c.done:
		}
	}()
	return c, nil
}

// Spec returns the spec the capture was started with.
func (c *Capture) Spec() Spec { return c.spec }

// HardwareAddr returns the MAC address of the captured interface.
func (c *Capture) HardwareAddr() net.HardwareAddr { return cloneMAC(c.sock.mac) }

func (c *Capture) requestStop() { c.stopOnce.Do(func() { close(c.stopReq) }) }

// Stop ends the capture after reading what the kernel has already queued,
// closes the socket and the pcap file, and returns the final counts. The
// error is a *DropError when the kernel dropped packets (the capture is
// incomplete), joined with any read or write error. Stop may be called
// more than once.
func (c *Capture) Stop() (Stats, error) {
	c.requestStop()
	<-c.done
	st := c.Stats()
	errs := []error{c.err}
	if st.Dropped > 0 {
		errs = append(errs, &DropError{Stats: st})
	}
	return st, errors.Join(errs...)
}

// Done is closed when the capture has stopped.
func (c *Capture) Done() <-chan struct{} { return c.done }

// Stats returns the counts so far (drops are refreshed about once a second
// while capturing, and exactly at Stop).
func (c *Capture) Stats() Stats {
	return Stats{
		Node: c.spec.Node, Iface: c.spec.Iface,
		Captured: c.captured.Load(), Bytes: c.bytes.Load(),
		Dropped: c.dropped.Load(), QueueFreezes: c.freezes.Load(),
	}
}

// Packets returns a copy of the packets kept so far, in capture order.
func (c *Capture) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.packets...)
}

// WaitFor waits until a kept packet matching p has been captured and
// returns the first one. It fails when ctx ends or the capture stops
// first, or when the capture discards packets.
func (c *Capture) WaitFor(ctx context.Context, p Pattern) (Packet, error) {
	if c.spec.Discard {
		return Packet{}, fmt.Errorf("capture %s: WaitFor on a capture that discards packets", c.spec.label())
	}
	seen := 0
	for {
		c.mu.Lock()
		pk, changed := c.packets[seen:], c.changed
		c.mu.Unlock()
		for i := range pk {
			if p.Match(&pk[i]) {
				return pk[i], nil
			}
		}
		seen += len(pk)
		select {
		case <-changed:
		case <-c.done:
			c.mu.Lock()
			more := len(c.packets) > seen
			c.mu.Unlock()
			if !more {
				return Packet{}, fmt.Errorf("capture %s: stopped before %s was seen", c.spec.label(), p)
			}
		case <-ctx.Done():
			return Packet{}, fmt.Errorf("capture %s: waiting for %s: %w", c.spec.label(), p, ctx.Err())
		}
	}
}

// run reads the ring until a stop is requested and the ring is drained.
func (c *Capture) run() {
	defer close(c.done)
	defer c.sock.tp.Close()
	dec := newDecoder()
	needDecode := !c.spec.Discard || c.spec.Out != nil
	stopping := false
	lastStats := time.Now()
	for {
		data, ci, err := c.sock.tp.ZeroCopyReadPacketData()
		if time.Since(lastStats) > time.Second {
			c.refreshDrops()
			lastStats = time.Now()
		}
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			if stopping {
				c.finish()
				return
			}
			select {
			case <-c.stopReq:
				// Read on until a poll times out: by then every block
				// holding earlier packets has been retired and read.
				stopping = true
			default:
			}
			continue
		case err != nil:
			c.err = fmt.Errorf("capture %s: read: %w", c.spec.label(), err)
			c.finish()
			return
		}
		if ci.InterfaceIndex != 0 && ci.InterfaceIndex != c.sock.ifindex {
			continue // queued before the socket was bound
		}
		if c.spec.Snaplen > 0 && len(data) > c.spec.Snaplen {
			data = data[:c.spec.Snaplen]
			ci.CaptureLength = len(data)
		}
		c.captured.Add(1)
		c.bytes.Add(uint64(ci.Length))
		if c.pcap != nil {
			if err := c.pcap.write(ci, data); err != nil && c.err == nil {
				c.err = fmt.Errorf("capture %s: %w", c.spec.label(), err)
			}
		}
		if !needDecode {
			continue
		}
		p := Packet{Node: c.spec.Node, Iface: c.spec.Iface, Time: ci.Timestamp, Len: ci.Length,
			Data: append([]byte(nil), data...)}
		dec.decode(&p)
		if !c.spec.Discard {
			c.keep(p)
		}
		if c.spec.Out != nil {
			c.spec.Out <- p
		}
		if !stopping {
			select {
			case <-c.stopReq:
				stopping = true
			default:
			}
		}
	}
}

func (c *Capture) keep(p Packet) {
	c.mu.Lock()
	c.packets = append(c.packets, p)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// refreshDrops reads the kernel counters (reading resets them; the
// afpacket handle accumulates) and logs new drops.
func (c *Capture) refreshDrops() {
	_, v3, err := c.sock.tp.SocketStats()
	if err != nil {
		c.log.Warn("capture: reading drop counters", "capture", c.spec.label(), "err", err)
		return
	}
	before := c.dropped.Swap(uint64(v3.Drops()))
	c.freezes.Store(uint64(v3.QueueFreezes()))
	if now := uint64(v3.Drops()); now > before {
		c.log.Warn("capture: kernel dropped packets", "capture", c.spec.label(), "dropped", now-before, "total_dropped", now)
	}
}

func (c *Capture) finish() {
	c.refreshDrops()
	if c.pcap != nil {
		if err := c.pcap.close(); err != nil && c.err == nil {
			c.err = fmt.Errorf("capture %s: %w", c.spec.label(), err)
		}
	}
}
