package capture

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
)

// Ring geometry. TPACKET_V3 hands the ring over in blocks: a block goes to
// the reader when it is full or blockTimeout after its first packet.
const (
	blockSize       = 256 << 10 // holds a 64 KiB GSO frame with room to spare
	defaultRingSize = 4 << 20
	blockTimeout    = 10 * time.Millisecond
	// pollTimeout bounds how long the reader waits before checking for a
	// stop request; it is longer than blockTimeout so that a timeout after
	// a stop request means every block has been retired and read.
	pollTimeout = 50 * time.Millisecond
)

// socket is an AF_PACKET TPACKET_V3 socket bound to one interface.
type socket struct {
	tp      *afpacket.TPacket
	ifindex int
	mac     net.HardwareAddr
}

// openSocket opens the capture socket of spec inside the spec's network
// namespace. A socket belongs to the namespace it was created in, so it is
// created on a locked OS thread switched into that namespace; the thread is
// switched back before it is unlocked (or left locked, and so destroyed by
// the runtime, if switching back fails).
func openSocket(spec Spec) (*socket, error) {
	type result struct {
		s   *socket
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		s, restored, err := openInNamespace(spec)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- result{s, err}
	}()
	r := <-done
	return r.s, r.err
}

// openInNamespace runs on a locked thread. restored reports whether the
// thread is back in its original namespace and may be reused.
func openInNamespace(spec Spec) (s *socket, restored bool, err error) {
	if spec.NetNS == "" {
		s, err = newSocket(spec)
		return s, true, err
	}
	orig, err := netns.Get()
	if err != nil {
		return nil, true, fmt.Errorf("capture %s: current network namespace: %w", spec.label(), err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(spec.NetNS)
	if err != nil {
		return nil, true, fmt.Errorf("capture %s: open network namespace %s: %w", spec.label(), spec.NetNS, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return nil, true, fmt.Errorf("capture %s: enter network namespace %s: %w", spec.label(), spec.NetNS, err)
	}
	s, err = newSocket(spec)
	if rerr := netns.Set(orig); rerr != nil {
		if s != nil {
			s.tp.Close()
		}
		return nil, false, fmt.Errorf("capture %s: return from network namespace %s: %w", spec.label(), spec.NetNS, rerr)
	}
	return s, true, err
}

// newSocket opens the socket in the calling thread's network namespace.
func newSocket(spec Spec) (*socket, error) {
	ifc, err := net.InterfaceByName(spec.Iface)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", spec.label(), err)
	}
	ring := spec.RingSize
	if ring <= 0 {
		ring = defaultRingSize
	}
	blocks := max(ring/blockSize, 4)
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(spec.Iface),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(4096),
		afpacket.OptBlockSize(blockSize),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(blockTimeout),
		afpacket.OptPollTimeout(pollTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("capture %s: AF_PACKET socket: %w", spec.label(), err)
	}
	if spec.Snaplen > 0 {
		// As libpcap does: a filter returning the snap length makes the
		// kernel cut packets before they take room in the ring.
		prog, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(spec.Snaplen)}})
		if err == nil {
			err = tp.SetBPF(prog)
		}
		if err != nil {
			tp.Close()
			return nil, fmt.Errorf("capture %s: snaplen filter: %w", spec.label(), err)
		}
	}
	if !spec.NoPromisc {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("capture %s: promiscuous mode: %w", spec.label(), err)
		}
	}
	return &socket{tp: tp, ifindex: ifc.Index, mac: ifc.HardwareAddr}, nil
}
