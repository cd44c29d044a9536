package evloop

import (
	"bytes"
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// BufSize is the size of the buffers InBuf reads into.
const BufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, BufSize); return &b }}

// InBuf holds received bytes not used yet. Its buffer comes from a pool
// when bytes arrive and goes back when it is empty, so an idle connection
// holds none.
type InBuf struct {
	b    *[]byte
	r, w int
}

// Data is the bytes received and not consumed.
func (ib *InBuf) Data() []byte {
	if ib.b == nil {
		return nil
	}
	return (*ib.b)[ib.r:ib.w]
}

// Consume drops the first n bytes of Data.
func (ib *InBuf) Consume(n int) {
	ib.r += n
	if ib.r == ib.w {
		ib.Release()
	}
}

// Full reports a buffer with no room left.
func (ib *InBuf) Full() bool { return ib.b != nil && ib.r == 0 && ib.w == len(*ib.b) }

// Release gives the buffer back, dropping what it holds.
func (ib *InBuf) Release() {
	if ib.b != nil {
		bufPool.Put(ib.b)
		ib.b, ib.r, ib.w = nil, 0, 0
	}
}

// readFrom reads from fd into the free space. n is 0 at the end of the
// stream; err is unix.EAGAIN when nothing is there yet; filled reports a
// read that took all the space (more may be waiting).
func (ib *InBuf) readFrom(fd int) (n int, filled bool, err error) {
	if ib.b == nil {
		ib.b = bufPool.Get().(*[]byte)
		ib.r, ib.w = 0, 0
	}
	if ib.r > 0 {
		copy(*ib.b, (*ib.b)[ib.r:ib.w])
		ib.w -= ib.r
		ib.r = 0
	}
	for {
		space := len(*ib.b) - ib.w
		n, err := Read(fd, (*ib.b)[ib.w:])
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			ib.w += n
		}
		if ib.r == ib.w && (err != nil || n == 0) {
			ib.Release()
		}
		if err != nil {
			return 0, false, err
		}
		return n, n == space, nil
	}
}

// Peer is a socket a loop talks to: the bytes received from it and not
// used yet, the ones waiting to go, and what its events told.
type Peer struct {
	FD  int
	In  InBuf
	Out FDWriter
	// Readable: bytes or an end may be there, not read yet
	Readable bool
	// Hup: the other side shut down or the socket failed
	Hup bool
}

// NewPeer is a Peer for the connected socket fd.
func NewPeer(fd int) Peer { return Peer{FD: fd, Out: FDWriter{FD: fd}} }

// Event notes what an event reports.
func (p *Peer) Event(ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		p.Readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		p.Hup = true
	}
}

// Fill reads what the socket has. n is 0 at the end of the stream; err is
// unix.EAGAIN when nothing is there yet. A read that does not fill the
// buffer emptied the socket: the next bytes come with an event (the
// sockets are edge-triggered), so none is tried before, which saves a
// read ending in EAGAIN per message. An end already announced is read.
func (p *Peer) Fill() (int, error) {
	n, filled, err := p.In.readFrom(p.FD)
	if err == unix.EAGAIN || (err == nil && n > 0 && !filled && !p.Hup) {
		p.Readable = false
	}
	return n, err
}

// ReadState is what ReadMore found.
type ReadState uint8

const (
	ReadWait ReadState = iota // nothing to read now: an event will tell
	ReadGot                   // bytes arrived in In
	ReadEnd                   // the stream ended (error nil) or failed
)

// ReadMore reads what the socket has if it may have something.
func (p *Peer) ReadMore() (ReadState, error) {
	if !p.Readable {
		return ReadWait, nil
	}
	n, err := p.Fill()
	switch {
	case err == unix.EAGAIN:
		return ReadWait, nil
	case err != nil:
		return ReadEnd, err
	case n == 0:
		return ReadEnd, nil
	}
	return ReadGot, nil
}

// FDWriter writes to a non-blocking descriptor, keeping what the kernel
// does not take yet for Flush. After an error it writes nothing more.
type FDWriter struct {
	FD      int
	Pending []byte
	Err     error
	Sent    int64 // bytes the kernel took

	// last: the descriptor closes once Pending is written (LastWrites)
	last bool
	// set by Batch
	loop   *Loop
	owner  Handler
	queued bool // in loop.batched
}

// Batch makes the writes made while l handles a batch of events wait for
// the batch's end: l then writes what each such writer holds, one after
// the other, and tells its owner h (the handler of w's descriptor) with
// an EPOLLOUT event. A descriptor closed, handed over or given to another
// handler meanwhile is left alone. A long batch writes what it holds
// once 32 writers wait, so that its first answers do not wait for all of
// its events.
//
// Answers a batch produced thus reach their readers together: a client
// with many connections (a load generator, a browser, a proxy in front)
// wakes once for all of them instead of once per answer. Measured in the
// lab with wrk against lbd: 0.77 instead of 1.33 epoll_wait calls per
// request in wrk, about 10 % more requests a second.
func (w *FDWriter) Batch(l *Loop, h Handler) { w.loop, w.owner = l, h }

func (w *FDWriter) Write(p []byte) (int, error) {
	if w.Err != nil {
		return 0, w.Err
	}
	n := len(p)
	if l := w.loop; l != nil && l.inBatch {
		if !w.queued {
			w.queued = true
			l.batched = append(l.batched, w)
		}
		if w.Pending == nil && len(l.free) > 0 {
			w.Pending = l.free[len(l.free)-1]
			l.free = l.free[:len(l.free)-1]
		}
		w.Pending = append(w.Pending, p...)
		return n, nil
	}
	if len(w.Pending) == 0 {
		m, err := w.writeFD(p)
		if err != nil {
			w.Err = err
			return 0, err
		}
		w.Sent += int64(m)
		p = p[m:]
	}
	w.Pending = append(w.Pending, p...)
	return n, nil
}

// Flush writes what is pending; it reports whether nothing is left.
func (w *FDWriter) Flush() (bool, error) {
	if w.Err != nil {
		return false, w.Err
	}
	if len(w.Pending) == 0 {
		return true, nil
	}
	m, err := w.writeFD(w.Pending)
	if err != nil {
		w.Err = err
		return false, err
	}
	w.Sent += int64(m)
	if m < len(w.Pending) {
		w.Pending = w.Pending[m:]
		return false, nil
	}
	// a batched writer's emptied array serves the next batch's writers
	if w.loop != nil && cap(w.Pending) <= maxPooledOut && len(w.loop.free) < maxPooled {
		w.loop.free = append(w.loop.free, w.Pending[:0])
	}
	w.Pending = nil
	return true, nil
}

// The arrays batched writers give back to their loop: at most maxPooled
// of at most maxPooledOut bytes each (2 MiB per loop), enough for the
// answers of a batch.
const (
	maxPooled    = 128
	maxPooledOut = 16 << 10
)

// LastWrites tells w that its descriptor is closed as soon as what it
// holds is written: a response before "Connection: close". Its writes
// from then on ask the kernel to hold back the tail of the data
// (MSG_MORE), so that the close sends it and the FIN in one segment,
// where a plain write and close send a data segment and a FIN segment,
// and the peer acknowledges each. Full segments still leave at once.
//
// The owner must close the descriptor right after the write that
// empties w (or after its own timeout): nothing else sends a held tail.
// Measured in the lab's close case (nginx's configuration, one loop):
// the client's pure ACKs fall from 2.2 to 1.0 a connection and proxyd's
// requests a second rise by about 7 %.
func (w *FDWriter) LastWrites() { w.last = true }

// writeFD writes what the kernel takes of p, EAGAIN being no error.
func (w *FDWriter) writeFD(p []byte) (int, error) {
	for {
		var m int
		var err error
		if w.last {
			m, err = sendMore(w.FD, p)
		} else {
			m, err = Write(w.FD, p)
		}
		switch err {
		case nil:
			return m, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, err
	}
}

// SliceReader reads the bytes it is given, then reports ErrIncomplete: a
// blocking parser reading through it over received bytes tells a message
// cut short by their end. Ended records that it did, for parsers that
// fold read errors into their own.
type SliceReader struct {
	B     []byte
	Ended bool
}

// ErrIncomplete is SliceReader's end: more bytes are needed.
var ErrIncomplete = errors.New("incomplete message")

func (r *SliceReader) Read(p []byte) (int, error) {
	if len(r.B) == 0 {
		r.Ended = true
		return 0, ErrIncomplete
	}
	n := copy(p, r.B)
	r.B = r.B[n:]
	return n, nil
}

// HeadEnds tells whether data may hold a whole HTTP message head (it has
// an empty line).
func HeadEnds(data []byte) bool {
	return bytes.Contains(data, []byte("\n\r\n")) || bytes.Contains(data, []byte("\n\n"))
}
