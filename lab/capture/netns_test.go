package capture

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// vethNet is two network namespaces made by a test, joined by a veth pair:
// veth0 (10.77.0.1/24) in A, veth1 (10.77.0.2/24) in B. Nothing is created
// in the host namespace; deleting the namespaces removes the pair.
type vethNet struct {
	nameA, nameB string
	pathA, pathB string
	nsA, nsB     netns.NsHandle
	addrA, addrB netip.Addr
	macA, macB   net.HardwareAddr
	ifA, ifB     int // interface indexes
}

var netSeq atomic.Int32

// newVethNet builds the namespaces and the pair, and removes them when the
// test ends. It skips when not root.
func newVethNet(t testing.TB) *vethNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	n := netSeq.Add(1)
	v := &vethNet{
		nameA: fmt.Sprintf("capt%d-%da", os.Getpid(), n),
		nameB: fmt.Sprintf("capt%d-%db", os.Getpid(), n),
		addrA: netip.MustParseAddr("10.77.0.1"),
		addrB: netip.MustParseAddr("10.77.0.2"),
	}
	v.pathA, v.pathB = "/run/netns/"+v.nameA, "/run/netns/"+v.nameB
	var err error
	v.nsA, err = newNamedNS(v.nameA)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.nsA.Close(); _ = netns.DeleteNamed(v.nameA) })
	v.nsB, err = newNamedNS(v.nameB)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.nsB.Close(); _ = netns.DeleteNamed(v.nameB) })

	hA, err := netlink.NewHandleAt(v.nsA)
	require.NoError(t, err)
	defer hA.Close()
	hB, err := netlink.NewHandleAt(v.nsB)
	require.NoError(t, err)
	defer hB.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth0"}, PeerName: "veth1", PeerNamespace: netlink.NsFd(int(v.nsB))}
	require.NoError(t, hA.LinkAdd(veth))
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		addr netip.Addr
		mac  *net.HardwareAddr
		idx  *int
	}{{hA, "veth0", v.addrA, &v.macA, &v.ifA}, {hB, "veth1", v.addrB, &v.macB, &v.ifB}} {
		link, err := side.h.LinkByName(side.name)
		require.NoError(t, err)
		addr, err := netlink.ParseAddr(side.addr.String() + "/24")
		require.NoError(t, err)
		require.NoError(t, side.h.AddrAdd(link, addr))
		require.NoError(t, side.h.LinkSetUp(link))
		lo, err := side.h.LinkByName("lo")
		require.NoError(t, err)
		require.NoError(t, side.h.LinkSetUp(lo))
		*side.mac = link.Attrs().HardwareAddr
		*side.idx = link.Attrs().Index
	}
	return v
}

// newNamedNS creates a named namespace (/run/netns/name) without leaving
// the calling goroutine's thread in it.
func newNamedNS(name string) (netns.NsHandle, error) {
	var h netns.NsHandle
	err := inThread(func() error {
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		h, err = netns.NewNamed(name)
		if err != nil {
			return fmt.Errorf("new netns %s: %w", name, err)
		}
		return netns.Set(orig)
	})
	return h, err
}

// inThread runs fn on a locked OS thread of its own; the thread is thrown
// away (left locked) if fn fails, since it may be in another namespace.
func inThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		if err == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// in runs fn inside namespace ns; sockets fn creates stay in ns.
func in(ns netns.NsHandle, fn func() error) error {
	return inThread(func() error {
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			return err
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			return err
		}
		return ferr
	})
}

// sendFrame writes a raw Ethernet frame on interface index ifindex of ns.
func sendFrame(ns netns.NsHandle, ifindex int, frame []byte) error {
	return in(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6, Addr: [8]byte{frame[0], frame[1], frame[2], frame[3], frame[4], frame[5]}})
	})
}
