package proxyd

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blackhole returns a loopback address whose accept queue is full, so
// that new connections hang in SYN_SENT: a way to make connect time out
// without leaving 127.0.0.0/8.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	// fill the queue; later connections are not answered
	for i := 0; i < 4; i++ {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
	}
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err == nil {
		_ = c.Close()
		t.Skip("cannot make a connection hang on this kernel")
	}
	return addr
}

func TestBlackhole(t *testing.T) {
	addr := blackhole(t)
	start := time.Now()
	_, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
}
