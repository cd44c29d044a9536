package evloop_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

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

// batchPeer is a Peer whose writes Batch holds, recording the events its
// handler hears.
type batchPeer struct {
	evloop.Peer
	other  int // the socket pair's other end, read by the test
	events []uint32
}

func (p *batchPeer) Ready(ev uint32) { p.events = append(p.events, ev) }

func newBatchPeer(t *testing.T, l *testLoop) *batchPeer {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[1]) })
	p := &batchPeer{Peer: evloop.NewPeer(fds[0]), other: fds[1]}
	p.Out.Batch(l.Loop, p)
	var addErr error
	l.do(func() { addErr = l.Add(fds[0], evloop.LevelRead, p) })
	require.NoError(t, addErr)
	return p
}

// received reads what the other end of p has received, without waiting.
func (p *batchPeer) received() string {
	var b [64]byte
	n, err := unix.Read(p.other, b[:])
	if err != nil || n <= 0 {
		return ""
	}
	return string(b[:n])
}

// TestBatchedWrites: writes made while the loop handles a batch of events
// leave when the batch ends, each writer's owner hearing of it; those of a
// descriptor closed meanwhile never leave; writes outside a batch leave at
// once.
func TestBatchedWrites(t *testing.T) {
	l := startLoop(t)
	kept, closed := newBatchPeer(t, l), newBatchPeer(t, l)
	trigR, trigW := pipe(t)

	type seen struct{ kept, closed string }
	during := make(chan seen, 1)
	rounds := 0
	trigger := handlerFunc(func(uint32) {
		var b [8]byte
		unix.Read(trigR, b[:])
		rounds++
		if rounds > 1 {
			// the array the first batch's output went out of is reused
			kept.Out.Write([]byte("four"))
			during <- seen{kept: kept.received()}
			return
		}
		kept.Out.Write([]byte("one "))
		kept.Out.Write([]byte("two"))
		closed.Out.Write([]byte("lost"))
		l.Close(closed.FD)
		during <- seen{kept.received(), closed.received()}
	})
	var addErr error
	l.do(func() { addErr = l.Add(trigR, evloop.LevelRead, trigger) })
	require.NoError(t, addErr)
	_, err := unix.Write(trigW, []byte{1})
	require.NoError(t, err)

	assert.Equal(t, seen{}, receive(t, during, "the batch"), "nothing leaves during the batch")
	var events []uint32
	var sent int64
	var pending int
	l.do(func() { events, sent, pending = kept.events, kept.Out.Sent, len(kept.Out.Pending) })
	assert.Equal(t, "one two", kept.received(), "the batch's writes leave together at its end")
	assert.Equal(t, []uint32{unix.EPOLLOUT}, events, "the owner hears of the flush")
	assert.Equal(t, int64(7), sent)
	assert.Zero(t, pending)
	assert.Empty(t, closed.received(), "a closed descriptor's output is dropped")
	var b [8]byte
	n, err := unix.Read(closed.other, b[:])
	assert.Zero(t, n, "the closed pair reads its end")
	assert.NoError(t, err)

	// outside a batch (a timer), a write leaves at once
	now := make(chan string, 1)
	l.do(func() {
		l.NewTimer(func() {
			kept.Out.Write([]byte("three"))
			now <- kept.received()
		}).Reset(0)
	})
	assert.Equal(t, "three", receive(t, now, "the timer"))

	_, err = unix.Write(trigW, []byte{1})
	require.NoError(t, err)
	assert.Equal(t, seen{}, receive(t, during, "the second batch"))
	l.do(func() {})
	assert.Equal(t, "four", kept.received())
}

// TestBatchedWritesLongBatch: once a batch holds the output of enough
// writers, it goes out before the batch's next event.
func TestBatchedWritesLongBatch(t *testing.T) {
	for _, tc := range []struct {
		writers int
		early   bool // the next event of the batch finds it sent
	}{
		{writers: 10, early: false},
		{writers: 40, early: true},
	} {
		t.Run(strconv.Itoa(tc.writers), func(t *testing.T) {
			l := startLoop(t)
			peers := make([]*batchPeer, tc.writers)
			for i := range peers {
				peers[i] = newBatchPeer(t, l)
			}
			aR, aW := pipe(t)
			bR, bW := pipe(t)
			sent := make(chan int, 1)
			var addErr error
			l.do(func() {
				addErr = errors.Join(
					l.Add(aR, evloop.LevelRead, handlerFunc(func(uint32) {
						var b [8]byte
						unix.Read(aR, b[:])
						for _, p := range peers {
							p.Out.Write([]byte("x"))
						}
					})),
					l.Add(bR, evloop.LevelRead, handlerFunc(func(uint32) {
						var b [8]byte
						unix.Read(bR, b[:])
						n := 0
						for _, p := range peers {
							if p.received() == "x" {
								n++
							}
						}
						sent <- n
					})))
				// both ready for the next wait, a first
				unix.Write(aW, []byte{1})
				unix.Write(bW, []byte{1})
			})
			require.NoError(t, addErr)
			want := 0
			if tc.early {
				want = tc.writers
			}
			assert.Equal(t, want, receive(t, sent, "the batch's second event"))
		})
	}
}

// TestLastWritesSendDataWithFIN checks that a writer told of its last
// writes lets the close carry the data's tail: the peer receives one
// segment fewer (data and FIN together), and all of the data.
func TestLastWritesSendDataWithFIN(t *testing.T) {
	segments := func(t *testing.T, last bool, payload string) int {
		t.Helper()
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		client, err := net.Dial("tcp4", ln.Addr().String())
		require.NoError(t, err)
		defer client.Close()
		sc, err := ln.Accept()
		require.NoError(t, err)
		f, err := sc.(*net.TCPConn).File()
		require.NoError(t, err)
		sc.Close()
		// the writer owns the descriptor now, as a loop's connection does
		fd, err := unix.Dup(int(f.Fd()))
		require.NoError(t, err)
		f.Close()

		w := evloop.FDWriter{FD: fd}
		if last {
			w.LastWrites()
		}
		n, err := w.Write([]byte(payload))
		require.NoError(t, err)
		require.Equal(t, len(payload), n)
		empty, err := w.Flush()
		require.NoError(t, err)
		require.True(t, empty)
		require.NoError(t, unix.Close(fd))

		require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
		got, err := io.ReadAll(client)
		require.NoError(t, err)
		require.Equal(t, payload, string(got), "every byte, then the end")
		rc, err := client.(*net.TCPConn).SyscallConn()
		require.NoError(t, err)
		var info *unix.TCPInfo
		var ierr error
		require.NoError(t, rc.Control(func(cfd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(cfd), unix.IPPROTO_TCP, unix.TCP_INFO) }))
		require.NoError(t, ierr)
		return int(info.Segs_in)
	}
	tests := []struct {
		name    string
		payload string
		saved   int // segments fewer
	}{
		{"short response", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1},
		// many segments: the kernel may push the tail before the close
		// (a forced push in a long write), but nothing is lost or held
		{"long response", strings.Repeat("x", 200<<10), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, last := segments(t, false, tt.payload), segments(t, true, tt.payload)
			if tt.saved >= 0 {
				assert.Equal(t, plain-tt.saved, last, "segments received with a plain close %d, after LastWrites %d", plain, last)
			}
		})
	}
}
