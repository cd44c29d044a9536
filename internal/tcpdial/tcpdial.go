// Package tcpdial opens TCP connections with the system calls nginx and
// HAProxy use, for halab's proxies: the net package's dialer costs three
// more per connection, which shows when every request opens one.
package tcpdial

import (
	"context"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a connection opened by Dial: a non-blocking socket, connect, one
// getsockopt to learn the outcome. The net package's dialer adds
// getsockname, getpeername and a TCP_NODELAY setsockopt, three system
// calls in a dozen per proxied request when upstream connections are not
// kept alive. The runtime poller still waits for it (os.NewFile registers
// a non-blocking descriptor) and deadlines work as on a net.Conn.
type Conn struct {
	*os.File
	remote *net.TCPAddr
}

var _ net.Conn = (*Conn)(nil)

// LocalAddr is nil: learning it would cost the system call Dial saves.
func (c *Conn) LocalAddr() net.Addr { return nil }

// RemoteAddr is the address dialled.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// CloseWrite shuts down the sending side (a finished WebSocket tunnel).
func (c *Conn) CloseWrite() error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_WR) }); err != nil {
		return err
	}
	return os.NewSyscallError("shutdown", serr)
}

// Dial connects to addr within timeout (none when 0); ctx cancels the
// attempt. Errors are *net.OpError as the net package's, so timeouts and
// errnos are told apart the same way.
func Dial(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	remote := net.TCPAddrFromAddrPort(addr)
	opErr := func(call string, err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: os.NewSyscallError(call, err)}
	}
	ip := addr.Addr().Unmap()
	var (
		family int
		sa     syscall.Sockaddr
	)
	if ip.Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: ip.As4()}
	} else {
		family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16(), ZoneId: zoneID(ip.Zone())}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opErr("socket", err)
	}
	err = syscall.Connect(fd, sa)
	if err == syscall.EINTR {
		// an interrupted connect goes on in the background
		err = syscall.EINPROGRESS
	}
	if err != nil && err != syscall.EINPROGRESS {
		_ = syscall.Close(fd)
		return nil, opErr("connect", err)
	}
	f := os.NewFile(uintptr(fd), "tcp "+addr.String())
	c := &Conn{File: f, remote: remote}
	if err == nil {
		return c, nil
	}
	if err := c.waitConnected(ctx, timeout); err != nil {
		_ = f.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: err}
		}
		return nil, opErr("connect", err)
	}
	return c, nil
}

// waitConnected waits until a connect in progress ends and returns its
// outcome.
func (c *Conn) waitConnected(ctx context.Context, timeout time.Duration) error {
	if timeout > 0 {
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = c.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	// The first look is right after connect (on a LAN the handshake is
	// often over by then); the runtime poller wakes the next ones. One
	// getsockopt per look, as nginx's SO_ERROR test.
	var soErr error
	werr := rc.Write(func(fd uintptr) bool {
		state, err := tcpState(int(fd))
		switch {
		case err != nil:
			soErr = err
		case state == tcpSynSent:
			return false
		case state == tcpClose:
			// a refused or unreachable connect ends in CLOSE with the
			// reason in SO_ERROR
			n, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
			switch {
			case err != nil:
				soErr = err
			case n != 0:
				soErr = syscall.Errno(n)
			default:
				soErr = syscall.ECONNREFUSED
			}
		}
		return true
	})
	_ = c.SetWriteDeadline(time.Time{})
	if werr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return werr
	}
	return soErr
}

// TCP states from include/net/tcp_states.h.
const (
	tcpSynSent = 2
	tcpClose   = 7
)

// tcpState reads tcpi_state, the first byte of struct tcp_info.
func tcpState(fd int) (byte, error) {
	var info [8]byte
	size := uint32(len(info))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return 0, errno
	}
	return info[0], nil
}

func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
