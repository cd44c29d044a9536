// Package evloop is an epoll event loop for halab's proxies: one goroutine
// waits for the readiness of many non-blocking descriptors and runs their
// handlers, with timers, the way nginx's and HAProxy's workers do. Driving
// connections as state machines from one loop avoids a goroutine switch
// per read and write and the runtime's hand-offs between threads, which
// is where a goroutine-per-connection proxy spends its time in a lab
// whose veth pairs make every write a long system call.
//
// Everything but Post runs on the loop's goroutine: handlers, timers and
// posted functions may use the loop without locks.
package evloop

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler receives the readiness events of a descriptor. Events are hints:
// a handler tries its I/O and treats EAGAIN as "not yet" (a descriptor
// number closed and reused within one batch may see its predecessor's).
type Handler interface {
	Ready(events uint32)
}

// Event masks for Add.
const (
	// EdgeReadWrite reports reads, writes and hang-ups once per change
	// (edge-triggered): a handler reads or writes until EAGAIN.
	EdgeReadWrite = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
	// LevelRead reports readability while it lasts (listening sockets).
	LevelRead = unix.EPOLLIN
)

// Loop is one event loop. Create it with New, run it with Run on a
// goroutine of its own, end it with Stop.
type Loop struct {
	epfd   int
	wakefd int
	// handlers by descriptor number
	handlers []Handler
	events   []unix.EpollEvent
	timers   timerHeap
	now      time.Time
	stopped  bool
	// writers that Batch made wait for the end of the batch in progress,
	// and arrays for their output
	inBatch bool
	batched []*FDWriter
	free    [][]byte

	mu     sync.Mutex
	posted []func()
	woken  bool // a wake-up is on its way
	ended  bool // Run returned: its descriptors are closed
	done   chan struct{}
}

// New opens a loop.
func New() (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &Loop{epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, 256), now: time.Now(), done: make(chan struct{})}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return l, nil
}

// Add watches fd for events (EdgeReadWrite or LevelRead) and hands them
// to h. Loop goroutine only.
func (l *Loop) Add(fd int, events uint32, h Handler) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := rawEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add %d: %w", fd, err)
	}
	for fd >= len(l.handlers) {
		l.handlers = append(l.handlers, nil)
	}
	l.handlers[fd] = h
	return nil
}

// Remove stops watching fd; call it before closing fd. Loop goroutine only.
func (l *Loop) Remove(fd int) {
	if fd < len(l.handlers) {
		l.handlers[fd] = nil
	}
	var ev unix.EpollEvent
	_ = rawEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, &ev)
}

// Close removes fd from the loop and closes it. Loop goroutine only.
func (l *Loop) Close(fd int) {
	if fd < len(l.handlers) {
		l.handlers[fd] = nil
	}
	// closing the last reference removes it from the epoll set
	rawClose(fd)
}

// Post runs f on the loop's goroutine, soon. Any goroutine may call it;
// functions run in the order posted. After Stop they never run.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return
	}
	l.posted = append(l.posted, f)
	if !l.woken {
		// under the lock: Run closes the descriptor under it too
		l.woken = true
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(l.wakefd, one[:])
	}
}

// Do runs f on the loop's goroutine and waits for it, unless Run has
// returned (then f does not run). Run must have been started.
func (l *Loop) Do(f func()) {
	ran := make(chan struct{})
	l.Post(func() {
		defer close(ran)
		f()
	})
	select {
	case <-ran:
	case <-l.done:
	}
}

// Done is closed once Run has returned.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Stop ends Run once the handler or function running returns. Loop
// goroutine only (others Post it).
func (l *Loop) Stop() { l.stopped = true }

// Now is the time the loop last woke up, for deadlines.
func (l *Loop) Now() time.Time { return l.now }

// Run waits for events and runs handlers, timers and posted functions
// until Stop. It closes the loop's own descriptors when it returns, not
// the ones added to it.
//
// The goroutine stays on its thread while Run runs: the scheduler would
// otherwise move it between threads whenever sysmon preempts it (every
// 10 ms under load, as it never yields), and a thread of its own also
// keeps the loop one thread for the kernel's scheduler (measured in the
// lab: about 20 % more requests a second).
func (l *Loop) Run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		// no Post may write to the wake-up descriptor's number once it
		// is closed (it may be reused)
		l.mu.Lock()
		l.ended = true
		l.posted = nil
		unix.Close(l.wakefd)
		l.mu.Unlock()
		unix.Close(l.epfd)
		close(l.done)
	}()
	for !l.stopped {
		n, err := l.wait()
		l.now = time.Now()
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		l.inBatch = true
		for i := 0; i < n && !l.stopped; i++ {
			ev := &l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				l.runPosted()
				continue
			}
			if fd < len(l.handlers) {
				if h := l.handlers[fd]; h != nil {
					h.Ready(ev.Events)
				}
			}
			if len(l.batched) >= maxBatched {
				// the first answers of a long batch wait no longer
				l.flushBatched()
			}
		}
		l.inBatch = false
		l.flushBatched()
		l.runTimers()
	}
	return nil
}

// wait is epoll_wait. The looks that find events under load are made
// without telling the scheduler (raw system calls), so that the
// goroutine keeps its P: a first one that does not block, then one that
// blocks for at most rawWaitMillis. Only a longer wait goes through the
// scheduler, so that other goroutines have the P meanwhile.
//
// A blocking wait through the scheduler costs more than its own system
// call. The runtime forces a goroutine that never yields, as the loop,
// off its P every 10 ms; when that falls in such a wait, sysmon takes
// the P and wakes every 20 µs for a while after. Measured in the lab
// (lbd, keep-alive with a persistence cookie): the runtime's other
// threads took 2.2 µs and 0.07 context switches a request, and about
// none with the bounded raw wait.
func (l *Loop) wait() (int, error) {
	if n, err := l.rawWait(0); n > 0 || err != nil {
		return n, err
	}
	ms := l.waitMillis()
	if ms == 0 {
		return 0, nil
	}
	first := rawWaitMillis
	if ms > 0 {
		first = min(ms, first)
	}
	if n, err := l.rawWait(first); n > 0 || err != nil {
		return n, err
	}
	if ms > 0 {
		if ms -= first; ms == 0 {
			return 0, nil
		}
	}
	return unix.EpollWait(l.epfd, l.events, ms)
}

// rawWaitMillis bounds the wait that keeps the P: with GOMAXPROCS=1,
// how much longer other goroutines may wait for it.
const rawWaitMillis = 1

// rawWait is epoll_wait for at most ms milliseconds, made without telling
// the scheduler. A signal (the runtime preempting the goroutine) ends it
// with EINTR.
func (l *Loop) rawWait(ms int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func (l *Loop) runPosted() {
	var buf [8]byte
	_, _ = unix.Read(l.wakefd, buf[:])
	l.mu.Lock()
	fs := l.posted
	l.posted = nil
	l.woken = false
	l.mu.Unlock()
	for _, f := range fs {
		if l.stopped {
			return
		}
		f()
	}
}

// maxBatched is how many writers' output a batch of events holds before
// it is written, in the middle of the batch if need be.
const maxBatched = 32

// flushBatched writes what the batch's writers hold and tells their
// owners, whose writes meanwhile go out at once.
func (l *Loop) flushBatched() {
	inBatch := l.inBatch
	l.inBatch = false
	ws := l.batched
	for i, w := range ws {
		ws[i] = nil
		w.queued = false
		if l.stopped || w.FD >= len(l.handlers) || l.handlers[w.FD] != w.owner {
			continue // closed or handed over: its owner has what it held
		}
		_, _ = w.Flush() // an error stays in w.Err for the owner
		w.owner.Ready(unix.EPOLLOUT)
	}
	l.batched = ws[:0]
	l.inBatch = inBatch
}

// waitMillis is how long epoll_wait may sleep: until the next timer,
// rounded up to a millisecond, or for ever (-1).
func (l *Loop) waitMillis() int {
	if len(l.timers) == 0 {
		return -1
	}
	d := l.timers[0].key.Sub(time.Now())
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (l *Loop) runTimers() {
	for len(l.timers) > 0 && !l.stopped {
		t := l.timers[0]
		if t.key.After(l.now) {
			return
		}
		if t.when.After(l.now) {
			// moved later since it took its place: it takes its new one
			t.key = t.when
			heap.Fix(&l.timers, 0)
			continue
		}
		heap.Pop(&l.timers)
		t.f()
	}
}

// Timer runs a function on the loop at a time. Its methods are for the
// loop's goroutine only.
type Timer struct {
	l    *Loop
	when time.Time
	// key orders the heap: when, or an earlier deadline when the timer
	// was moved later since (it moves in the heap once that comes up,
	// not at each Reset: a connection's timeout is pushed back at each
	// request)
	key time.Time
	idx int // in the heap, -1 when not armed
	f   func()
}

// NewTimer returns a timer that runs f when it fires; it is not armed.
func (l *Loop) NewTimer(f func()) *Timer { return &Timer{l: l, idx: -1, f: f} }

// Reset arms t to fire d after the loop's current time (Now).
func (t *Timer) Reset(d time.Duration) { t.ResetAt(t.l.now.Add(d)) }

// ResetAt arms t to fire at when.
func (t *Timer) ResetAt(when time.Time) {
	t.when = when
	if t.idx >= 0 {
		if !when.Before(t.key) {
			return // later: runTimers moves it when its key comes up
		}
		t.key = when
		heap.Fix(&t.l.timers, t.idx)
		return
	}
	t.key = when
	heap.Push(&t.l.timers, t)
}

// Stop disarms t.
func (t *Timer) Stop() {
	if t.idx >= 0 {
		heap.Remove(&t.l.timers, t.idx)
	}
}

// When is the time t fires at, if armed.
func (t *Timer) When() time.Time { return t.when }

// Armed reports whether t will fire.
func (t *Timer) Armed() bool { return t.idx >= 0 }

type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].key.Before(h[j].key) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}
