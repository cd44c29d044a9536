package evloop_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"halab/internal/evloop"
)

// TestListenReusePort binds a net.Listener made with ReusePort and two
// ListenReusePort sockets on its address: connections are dealt among
// the three, every one is accepted by exactly one, and a socket without
// SO_REUSEPORT cannot join.
func TestListenReusePort(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			lc := net.ListenConfig{Control: evloop.ReusePort}
			l, err := lc.Listen(context.Background(), tc.network, tc.addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", tc.network, err)
			}
			t.Cleanup(func() { l.Close() })
			addr := l.Addr().(*net.TCPAddr).AddrPort()
			addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
			var fds []int
			for range 2 {
				fd, err := evloop.ListenReusePort(addr)
				require.NoError(t, err)
				t.Cleanup(func() { unix.Close(fd) })
				fds = append(fds, fd)
			}
			// the first socket: accepted through the listener's duplicate
			first, err := evloop.ListenerFD(l)
			require.NoError(t, err)
			t.Cleanup(func() { unix.Close(first) })
			fds = append(fds, first)

			const conns = 60
			var clients []net.Conn
			for range conns {
				c, err := net.DialTimeout(tc.network, addr.String(), 2*time.Second)
				require.NoError(t, err)
				clients = append(clients, c)
			}
			t.Cleanup(func() {
				for _, c := range clients {
					c.Close()
				}
			})
			per := make([]int, len(fds))
			deadline := time.Now().Add(5 * time.Second)
			for total := 0; total < conns && time.Now().Before(deadline); {
				for i, fd := range fds {
					cfd, remote, local, err := evloop.Accept(fd)
					if err == unix.EAGAIN {
						continue
					}
					require.NoError(t, err)
					unix.Close(cfd)
					assert.Equal(t, addr, local)
					assert.True(t, remote.IsValid())
					per[i]++
					total++
				}
				time.Sleep(time.Millisecond)
			}
			sum := 0
			for i, n := range per {
				sum += n
				// evenly enough that none is left out (60 over 3: the
				// chance of an empty one is under 1e-10)
				assert.Positive(t, n, "socket %d accepted none of %d", i, conns)
			}
			assert.Equal(t, conns, sum)

			// a socket without SO_REUSEPORT cannot bind there
			_, err = net.Listen(tc.network, addr.String())
			assert.Error(t, err)
		})
	}
}
