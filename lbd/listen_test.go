package lbd

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestListenerSockets checks lbd's listening sockets against HAProxy's:
// plain TCP (not the MPTCP Go would open), "*" as IPv4's any address,
// and quick acknowledgements off in HTTP mode (smart-accept) unless "no
// option smart-accept", on in tcp mode; accepted connections start so.
func TestListenerSockets(t *testing.T) {
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
	const defaults = "defaults\nmode http\ntimeout client 5s\ntimeout server 5s\ntimeout connect 5s\n"
	_, in := startLBD(t, defaults+fmt.Sprintf(`frontend web
bind *:%d
default_backend b
frontend quick
bind 127.0.0.1:%d
no option smart-accept
default_backend b
backend b
server s 127.0.0.1:9
`, ports[0], ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[0]))
	// (a tcp backend keeps every frontend of its instance off the loop)
	_, raw := startLBD(t, defaults+fmt.Sprintf(`listen raw
mode tcp
bind 127.0.0.1:%d
server s 127.0.0.1:9
`, ports[2]), fmt.Sprintf("127.0.0.1:%d", ports[2]))

	sockopt := func(l net.Listener, level, opt int) int {
		rc, err := l.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		var v int
		var serr error
		require.NoError(t, rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }))
		require.NoError(t, serr)
		return v
	}
	want := map[string]struct{ domain, quickAck int }{
		"web":   {unix.AF_INET, 0},
		"quick": {unix.AF_INET, 1},
		"raw":   {unix.AF_INET, 1},
	}
	for _, fe := range append(in.Frontends, raw.Frontends...) {
		require.Len(t, fe.listeners, 1, fe.Name)
		l := fe.listeners[0]
		assert.Equal(t, unix.IPPROTO_TCP, sockopt(l, unix.SOL_SOCKET, unix.SO_PROTOCOL), "%s: protocol", fe.Name)
		assert.Equal(t, want[fe.Name].domain, sockopt(l, unix.SOL_SOCKET, unix.SO_DOMAIN), "%s: address family", fe.Name)
		assert.Equal(t, want[fe.Name].quickAck, sockopt(l, unix.IPPROTO_TCP, unix.TCP_QUICKACK), "%s: TCP_QUICKACK", fe.Name)
	}

	// a connection accepted by the event loop, before it sends anything
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NotNil(t, in.loop)
	quickAck := -1
	require.Eventually(t, func() bool {
		in.loop.lp.Do(func() {
			for lc := range in.loop.clients {
				quickAck, _ = unix.GetsockoptInt(lc.FD, unix.IPPROTO_TCP, unix.TCP_QUICKACK)
			}
		})
		return quickAck != -1
	}, 2*time.Second, 10*time.Millisecond)
	assert.Equal(t, 0, quickAck, "an accepted client acknowledges its request with the response")
}
