package tcpdial

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
)

// echoServer accepts connections on network/addr and echoes until EOF,
// then closes.
func echoServer(t *testing.T, network, addr string) netip.AddrPort {
	t.Helper()
	ln := nettest.Serve(t, network, addr, func(c net.Conn) { _, _ = io.Copy(c, c) })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func TestDialExchangesData(t *testing.T) {
	for _, tc := range []struct{ name, network, addr string }{
		{"IPv4", "tcp4", "127.0.0.1:0"},
		{"IPv6", "tcp6", "[::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", tc.name, err)
			}
			_ = ln.Close()
			addr := echoServer(t, tc.network, tc.addr)
			c, err := Dial(context.Background(), addr, time.Second)
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, addr.String(), c.RemoteAddr().String())
			_, err = c.Write([]byte("ping"))
			require.NoError(t, err)
			// half-close: the echo ends and the server closes its side
			require.NoError(t, c.(*Conn).CloseWrite())
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.Equal(t, "ping", string(got))
		})
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	require.NoError(t, ln.Close())

	_, err = Dial(context.Background(), addr, time.Second)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "%v", err)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.False(t, ne.Timeout())
}

func TestDialTimeout(t *testing.T) {
	addr := nettest.Blackhole(t)
	start := time.Now()
	_, err := Dial(context.Background(), addr, 150*time.Millisecond)
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "%v", err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestDialCancelled(t *testing.T) {
	addr := nettest.Blackhole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Dial(ctx, addr, time.Minute)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Less(t, time.Since(start), 30*time.Second)
}

func TestDialDeadlines(t *testing.T) {
	addr := echoServer(t, "tcp4", "127.0.0.1:0")
	c, err := Dial(context.Background(), addr, time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
}

func BenchmarkDial(b *testing.B) {
	ln := nettest.Serve(b, "tcp4", "127.0.0.1:0", func(net.Conn) {})
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	for _, bc := range []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"tcpdial", func() (net.Conn, error) { return Dial(context.Background(), addr, time.Second) }},
		{"net", func() (net.Conn, error) {
			d := net.Dialer{Timeout: time.Second, KeepAlive: -1}
			return d.Dial("tcp", addr.String())
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := bc.dial()
				if err != nil {
					b.Fatal(err)
				}
				_ = c.Close()
			}
		})
	}
}
