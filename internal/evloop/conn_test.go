package evloop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"halab/internal/evloop"
)

// TestReadMore walks a Peer through what ReadMore tells: nothing to read
// before an event, bytes, nothing more for now, the end.
func TestReadMore(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[0]) })
	p := evloop.NewPeer(fds[0])

	st, err := p.ReadMore()
	assert.Equal(t, evloop.ReadWait, st, "no event yet: no read")
	assert.NoError(t, err)

	_, err = unix.Write(fds[1], []byte("hello"))
	require.NoError(t, err)
	p.Event(unix.EPOLLIN)
	st, err = p.ReadMore()
	assert.Equal(t, evloop.ReadGot, st)
	assert.NoError(t, err)
	assert.Equal(t, "hello", string(p.In.Data()))
	// a short read emptied the socket: no second read before an event
	assert.False(t, p.Readable)
	st, _ = p.ReadMore()
	assert.Equal(t, evloop.ReadWait, st)

	p.Event(unix.EPOLLIN) // a spurious event: the read says EAGAIN
	st, err = p.ReadMore()
	assert.Equal(t, evloop.ReadWait, st)
	assert.NoError(t, err)

	require.NoError(t, unix.Close(fds[1]))
	p.Event(unix.EPOLLIN | unix.EPOLLRDHUP)
	st, err = p.ReadMore()
	assert.Equal(t, evloop.ReadEnd, st)
	assert.NoError(t, err, "an end, not a failure")
	assert.Equal(t, "hello", string(p.In.Data()), "received bytes stay")
	p.In.Release()
}
