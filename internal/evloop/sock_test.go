package evloop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"halab/internal/evloop"
)

// TestReadWriteDescriptors checks Read and Write on the descriptors the
// loops hand them: sockets (recvfrom and sendto) and anything else, here
// a pipe (read and write), including what a closed peer looks like.
func TestReadWriteDescriptors(t *testing.T) {
	tests := []struct {
		name string
		open func() ([2]int, error)
	}{
		{"socket", func() ([2]int, error) {
			return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		}},
		{"pipe", func() ([2]int, error) {
			var p [2]int
			err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
			return [2]int{p[0], p[1]}, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fds, err := tt.open()
			require.NoError(t, err)
			r, w := fds[0], fds[1]
			t.Cleanup(func() { unix.Close(r) })

			buf := make([]byte, 16)
			_, err = evloop.Read(r, buf)
			assert.ErrorIs(t, err, unix.EAGAIN, "nothing to read yet")

			n, err := evloop.Write(w, []byte("hello"))
			require.NoError(t, err)
			assert.Equal(t, 5, n)
			n, err = evloop.Read(r, buf)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(buf[:n]))

			require.NoError(t, unix.Close(w))
			n, err = evloop.Read(r, buf)
			assert.NoError(t, err)
			assert.Zero(t, n, "the end: zero bytes, no error")
		})
	}

	t.Run("closed reader", func(t *testing.T) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		t.Cleanup(func() { unix.Close(fds[1]) })
		require.NoError(t, unix.Close(fds[0]))
		_, err = evloop.Write(fds[1], []byte("x"))
		assert.ErrorIs(t, err, unix.EPIPE, "an error, not a signal")
	})
}
