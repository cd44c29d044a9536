// Package nettest has loopback servers for tests: one that runs a handler
// on each connection it accepts, and one whose connections are never
// answered, to make a connect time out without leaving 127.0.0.0/8.
package nettest

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// Serve listens on network and addr (port 0 for any free one) and runs
// handle on each accepted connection in a goroutine of its own, closing
// the connection when handle returns. The listener closes when tb ends.
func Serve(tb testing.TB, network, addr string, handle func(net.Conn)) net.Listener {
	tb.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln
}

// Blackhole returns a loopback address whose accept queue is full, so
// that new connections to it hang in SYN_SENT until their timeout. It
// skips the test on a kernel that keeps accepting.
func Blackhole(tb testing.TB) netip.AddrPort {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		tb.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
	// fill the queue (backlog 0 holds one connection); later ones hang
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			return addr
		}
		tb.Cleanup(func() { _ = c.Close() })
	}
	tb.Skip("the kernel kept accepting connections on a full queue")
	return addr
}
