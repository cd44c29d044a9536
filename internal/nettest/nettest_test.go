package nettest

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServe(t *testing.T) {
	ln := Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) { _, _ = io.WriteString(c, "hello") })
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		got, err := io.ReadAll(c) // the server closes after its handler
		require.NoError(t, err)
		assert.Equal(t, "hello", string(got))
		c.Close()
	}
}

func TestBlackhole(t *testing.T) {
	addr := Blackhole(t)
	start := time.Now()
	_, err := net.DialTimeout("tcp", addr.String(), 300*time.Millisecond)
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
}
