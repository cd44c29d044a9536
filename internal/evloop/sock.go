package evloop

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ListenerFD returns a duplicate of l's descriptor for a loop to accept
// on; the caller closes it. l keeps its own and stays usable.
func ListenerFD(l net.Listener) (int, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return -1, errors.New("listener has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(lfd uintptr) {
		fd, derr = unix.FcntlInt(lfd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("fcntl", derr)
	}
	return fd, nil
}

// Accept takes a connection from the listening socket lfd: non-blocking,
// TCP_NODELAY as the net package sets it, with both addresses.
func Accept(lfd int) (fd int, remote, local netip.AddrPort, err error) {
	fd, remote, err = rawAccept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, remote, local, err
	}
	_ = SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	local, _ = rawGetsockname(fd)
	return fd, remote, local, nil
}

// Connect starts a non-blocking connection to addr. The attempt goes on
// in the kernel: a write returns EAGAIN until it is over, and its error
// if it failed.
func Connect(addr netip.AddrPort) (int, error) {
	family := unix.AF_INET6
	if addr.Addr().Unmap().Is4() {
		family = unix.AF_INET
	}
	fd, err := rawSocket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	switch err := rawConnect(fd, addr); err {
	case nil, unix.EINPROGRESS, unix.EINTR:
		return fd, nil
	default:
		rawClose(fd)
		return -1, os.NewSyscallError("connect", err)
	}
}

// Read reads from fd without telling the Go scheduler: the loop's
// goroutine keeps its P through the call (see sys.go).
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Write writes to fd as Read reads.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// ListenReusePort opens a non-blocking listening socket on addr with
// SO_REUSEPORT, joining the group of sockets bound there with it: the
// kernel deals each new connection to one of them by its addresses, so
// that several loops, each accepting on a socket of its own, share the
// connections evenly. An IPv6 address listens to IPv6 only.
func ListenReusePort(addr netip.AddrPort) (int, error) {
	family := unix.AF_INET6
	if addr.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := rawSocket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, error) {
		rawClose(fd)
		return -1, os.NewSyscallError(call, err)
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	} else {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("setsockopt", err)
		}
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

// ReusePort sets SO_REUSEPORT on a socket about to be bound, for
// net.ListenConfig.Control: the first socket of a ListenReusePort group.
func ReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
