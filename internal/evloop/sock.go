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
// goroutine keeps its P through the call (see sys.go). On a socket it
// calls recvfrom, as HAProxy does: the socket layer directly, without the
// file layer's work of read(2) (position lock, checks, notifications).
// Any other descriptor is read with read(2).
func Read(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_RECVFROM, unix.SYS_READ, fd, p, 0)
}

// Write writes to fd as Read reads: sendto on a socket (without SIGPIPE:
// a closed peer is EPIPE), write(2) on anything else.
func Write(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_SENDTO, unix.SYS_WRITE, fd, p, unix.MSG_NOSIGNAL)
}

// sendMore writes p to the socket fd as Write does, telling the kernel
// that more is to come (MSG_MORE): a tail shorter than a segment waits
// for the next write or for the FIN.
func sendMore(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_SENDTO, noFileTrap, fd, p, unix.MSG_MORE|unix.MSG_NOSIGNAL)
}

// noFileTrap tells rawIO that a descriptor must be a socket (read(2) is
// system call 0).
const noFileTrap = ^uintptr(0)

// rawIO is recvfrom or sendto (sockTrap) of p on fd with flags, as a raw
// system call. On a descriptor that is no socket it is fileTrap (read or
// write) instead, unless that is noFileTrap.
func rawIO(sockTrap, fileTrap uintptr, fd int, p []byte, flags uintptr) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(sockTrap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), flags, 0, 0)
	if e == unix.ENOTSOCK && fileTrap != noFileTrap {
		n, _, e = unix.RawSyscall(fileTrap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	}
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
