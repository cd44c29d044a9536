package evloop_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"halab/internal/evloop"
)

// waitTimeout bounds every wait of these tests, so that a failure cannot
// hang them.
const waitTimeout = 5 * time.Second

// testLoop is a loop running on a goroutine of its own for one test.
type testLoop struct {
	*evloop.Loop
	t      *testing.T
	goid   int64 // of the goroutine that runs Run
	runErr chan error
	ended  bool
	err    error
}

// startLoop starts a loop; the test's cleanup stops it (unless the test
// did) and checks that Run returned.
func startLoop(t *testing.T) *testLoop {
	t.Helper()
	l, err := evloop.New()
	require.NoError(t, err)
	tl := &testLoop{Loop: l, t: t, runErr: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		tl.goid = goid()
		close(started)
		tl.runErr <- l.Run()
	}()
	<-started
	t.Cleanup(func() {
		if !tl.ended {
			l.Post(l.Stop)
			assert.NoError(t, tl.waitEnd(), "Run")
		}
	})
	return tl
}

// waitEnd waits for Run to return and returns its error.
func (tl *testLoop) waitEnd() error {
	tl.t.Helper()
	if tl.ended {
		return tl.err
	}
	select {
	case tl.err = <-tl.runErr:
		tl.ended = true
	case <-time.After(waitTimeout):
		tl.t.Fatalf("Run did not return within %v", waitTimeout)
	}
	return tl.err
}

// do runs f on the loop's goroutine and waits for it. f must not call
// t.FailNow (it would end the loop's goroutine, not the test's).
func (tl *testLoop) do(f func()) {
	tl.t.Helper()
	ran := make(chan struct{})
	tl.Post(func() {
		defer close(ran)
		f()
	})
	waitClosed(tl.t, ran, "a posted function")
}

// waitClosed waits for ch to be closed.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not done within %v", what, waitTimeout)
	}
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("%s: nothing within %v", what, waitTimeout)
		panic("unreachable")
	}
}

// goid is the current goroutine's id, from its stack trace.
func goid() int64 {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	s, _, _ = strings.Cut(s, " ")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("cannot parse goroutine id from " + s)
	}
	return id
}

type handlerFunc func(events uint32)

func (f handlerFunc) Ready(events uint32) { f(events) }

// addrPort converts a net.Addr of a TCP connection.
func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	require.NoError(t, err)
	return ap
}

// pipe returns a non-blocking pipe, closed by the test's cleanup.
func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC))
	t.Cleanup(func() {
		unix.Close(p[0])
		unix.Close(p[1])
	})
	return p[0], p[1]
}

func TestPostRunsInOrderOnLoop(t *testing.T) {
	tests := []struct {
		name    string
		posters int
		each    int
	}{
		{"one goroutine", 1, 2000},
		{"eight goroutines", 8, 250},
		{"many goroutines", 64, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			type call struct{ poster, seq int }
			var (
				calls   []call // loop goroutine only
				running atomic.Int32
				overlap atomic.Bool
				wrongG  atomic.Int64
			)
			var wg sync.WaitGroup
			for p := range tt.posters {
				wg.Go(func() {
					for i := range tt.each {
						l.Post(func() {
							if running.Add(1) != 1 {
								overlap.Store(true)
							}
							if g := goid(); g != l.goid {
								wrongG.Store(g)
							}
							calls = append(calls, call{p, i})
							running.Add(-1)
						})
					}
				})
			}
			wg.Wait()
			// every Post above happened before this one, so ran before it
			var got []call
			l.do(func() { got = slices.Clone(calls) })

			assert.False(t, overlap.Load(), "posted functions ran concurrently")
			assert.Zero(t, wrongG.Load(), "a posted function ran off the loop goroutine %d", l.goid)
			require.Len(t, got, tt.posters*tt.each)
			next := make([]int, tt.posters)
			for _, c := range got {
				require.Equal(t, next[c.poster], c.seq, "poster %d: functions out of order", c.poster)
				next[c.poster]++
			}
		})
	}
}

func TestPostFromPostedFunctionRunsAfterIt(t *testing.T) {
	l := startLoop(t)
	var order []string
	done := make(chan struct{})
	l.Post(func() {
		order = append(order, "outer start")
		l.Post(func() { order = append(order, "inner 1") })
		l.Post(func() {
			order = append(order, "inner 2")
			close(done)
		})
		order = append(order, "outer end")
	})
	waitClosed(t, done, "nested posts")
	var got []string
	l.do(func() { got = slices.Clone(order) })
	assert.Equal(t, []string{"outer start", "outer end", "inner 1", "inner 2"}, got)
}

// firing is what a timer's function saw when it ran.
type firing struct {
	idx   int
	now   time.Time // l.Now()
	when  time.Time // t.When()
	armed bool      // t.Armed()
	real  time.Time // time.Now()
	goid  int64
}

// timerSet arms timers on a loop and records their firings.
type timerSet struct {
	l       *testLoop
	timers  []*evloop.Timer
	armedAt []time.Time // l.Now() when last (re)armed
	delays  []time.Duration
	fired   []firing
	notify  chan struct{} // closed once want firings happened
	want    int
}

// newTimerSet makes n timers (loop goroutine only); want firings close
// notify.
func newTimerSet(l *testLoop, n, want int) *timerSet {
	s := &timerSet{l: l, notify: make(chan struct{}), want: want,
		armedAt: make([]time.Time, n), delays: make([]time.Duration, n)}
	for i := range n {
		var tm *evloop.Timer
		tm = l.NewTimer(func() {
			s.fired = append(s.fired, firing{idx: i, now: l.Now(), when: tm.When(), armed: tm.Armed(), real: time.Now(), goid: goid()})
			if len(s.fired) == s.want {
				close(s.notify)
			}
		})
		s.timers = append(s.timers, tm)
	}
	return s
}

func (s *timerSet) reset(i int, d time.Duration) {
	s.armedAt[i], s.delays[i] = s.l.Now(), d
	s.timers[i].Reset(d)
}

// wait waits for the wanted firings and returns them all.
func (s *timerSet) wait(t *testing.T) []firing {
	t.Helper()
	waitClosed(t, s.notify, "timers")
	var got []firing
	s.l.do(func() { got = slices.Clone(s.fired) })
	return got
}

func (s *timerSet) order(fs []firing) []int {
	var idx []int
	for _, f := range fs {
		idx = append(idx, f.idx)
	}
	return idx
}

// checkFirings checks that each timer ran on the loop, disarmed, not
// before its time.
func (s *timerSet) checkFirings(t *testing.T, fs []firing) {
	t.Helper()
	for _, f := range fs {
		assert.Equal(t, s.l.goid, f.goid, "timer %d ran off the loop goroutine", f.idx)
		assert.False(t, f.armed, "timer %d still armed in its function", f.idx)
		assert.False(t, f.now.Before(f.when), "timer %d fired at loop time %v, before its time %v", f.idx, f.now, f.when)
		due := s.armedAt[f.idx].Add(s.delays[f.idx])
		assert.False(t, f.real.Before(due), "timer %d fired at %v, before %v", f.idx, f.real, due)
	}
}

func TestTimersFireInDeadlineOrder(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		delays []time.Duration
		want   []int // indexes in firing order
	}{
		{"ascending", []time.Duration{10 * ms, 20 * ms, 30 * ms}, []int{0, 1, 2}},
		{"descending", []time.Duration{40 * ms, 30 * ms, 20 * ms, 10 * ms}, []int{3, 2, 1, 0}},
		{"shuffled", []time.Duration{25 * ms, 5 * ms, 45 * ms, 15 * ms, 35 * ms}, []int{1, 3, 0, 4, 2}},
		{"due now and past", []time.Duration{10 * ms, 0, -5 * ms}, []int{2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			var s *timerSet
			var armed []bool
			var when []time.Time
			var now time.Time
			l.do(func() {
				s = newTimerSet(l, len(tt.delays), len(tt.delays))
				now = l.Now()
				for i, d := range tt.delays {
					s.reset(i, d)
					armed = append(armed, s.timers[i].Armed())
					when = append(when, s.timers[i].When())
				}
			})
			for i, d := range tt.delays {
				assert.True(t, armed[i], "timer %d not armed after Reset", i)
				assert.Equal(t, now.Add(d), when[i], "timer %d: When after Reset(%v)", i, d)
			}
			got := s.wait(t)
			assert.Equal(t, tt.want, s.order(got))
			s.checkFirings(t, got)
		})
	}
}

func TestTimerReset(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		delays  []time.Duration
		resets  map[int]time.Duration // re-armed at once, with Reset
		resetAt map[int]time.Duration // re-armed at once, with ResetAt(Now()+d)
		want    []int
	}{
		{"armed timer moved later", []time.Duration{10 * ms, 30 * ms}, map[int]time.Duration{0: 60 * ms}, nil, []int{1, 0}},
		{"armed timer moved earlier", []time.Duration{time.Hour, 30 * ms}, map[int]time.Duration{0: 5 * ms}, nil, []int{0, 1}},
		{"middle timer moved last", []time.Duration{10 * ms, 20 * ms, 30 * ms}, map[int]time.Duration{1: 50 * ms}, nil, []int{0, 2, 1}},
		{"ResetAt moves later", []time.Duration{5 * ms, 20 * ms}, nil, map[int]time.Duration{0: 40 * ms}, []int{1, 0}},
		{"ResetAt moves earlier", []time.Duration{time.Hour, 20 * ms}, nil, map[int]time.Duration{0: 5 * ms}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			var s *timerSet
			type state struct {
				armed bool
				when  time.Time
				want  time.Time
			}
			var after []state
			l.do(func() {
				s = newTimerSet(l, len(tt.delays), len(tt.delays))
				for i, d := range tt.delays {
					s.reset(i, d)
				}
				for i, d := range tt.resets {
					s.reset(i, d)
				}
				for i, d := range tt.resetAt {
					at := l.Now().Add(d)
					s.armedAt[i], s.delays[i] = l.Now(), d
					s.timers[i].ResetAt(at)
				}
				for i := range tt.delays {
					after = append(after, state{s.timers[i].Armed(), s.timers[i].When(), s.armedAt[i].Add(s.delays[i])})
				}
			})
			for i, st := range after {
				assert.True(t, st.armed, "timer %d", i)
				assert.Equal(t, st.want, st.when, "timer %d: When", i)
			}
			got := s.wait(t)
			assert.Equal(t, tt.want, s.order(got))
			s.checkFirings(t, got)
		})
	}
}

// TestTimerMovedLaterTwice checks a timer pushed back twice, the second
// time less far: the heap moves it lazily (once its first deadline comes
// up), yet it fires at its last deadline, after the timer due between.
func TestTimerMovedLaterTwice(t *testing.T) {
	ms := time.Millisecond
	l := startLoop(t)
	var s *timerSet
	l.do(func() {
		s = newTimerSet(l, 2, 2)
		s.reset(0, 10*ms)
		s.reset(1, 30*ms)
		s.reset(0, 80*ms)
		s.reset(0, 50*ms)
	})
	got := s.wait(t)
	assert.Equal(t, []int{1, 0}, s.order(got))
	s.checkFirings(t, got)
}

// TestTimerResetWakesLoop checks that arming a timer from another event
// shortens the loop's sleep: the loop sleeps for an hour-long timer when
// a posted function re-arms it for now.
func TestTimerResetWakesLoop(t *testing.T) {
	l := startLoop(t)
	var s *timerSet
	l.do(func() {
		s = newTimerSet(l, 1, 1)
		s.reset(0, time.Hour)
	})
	time.Sleep(10 * time.Millisecond) // let the loop go to sleep
	l.do(func() { s.reset(0, 20*time.Millisecond) })
	got := s.wait(t)
	assert.Equal(t, []int{0}, s.order(got))
	s.checkFirings(t, got)
}

// TestIdleLoopLeavesThePToOthers checks that a loop with nothing to do
// lets the process's other goroutines run with a single P: it waits
// without telling the scheduler for a millisecond at most. A goroutine
// sleeps a millisecond again and again for 600 ms: some 500 times, where
// a loop keeping the P would leave it a turn every 10 ms (when the
// runtime forces the loop off), 60 at most.
func TestIdleLoopLeavesThePToOthers(t *testing.T) {
	procs := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	l := startLoop(t)
	l.do(func() {}) // running
	time.Sleep(10 * time.Millisecond)
	sleeps := 0
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); sleeps++ {
		time.Sleep(time.Millisecond)
	}
	assert.Greater(t, sleeps, 120, "the loop kept the only P")
}

func TestTimerStop(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		// setup runs on the loop with timers 0..n-1 made; it arms and
		// stops them and returns Armed of each afterwards.
		n     int
		setup func(l *testLoop, s *timerSet) []bool
		armed []bool // as setup returns it
		want  []int
	}{
		{
			name: "armed timer stopped", n: 2,
			setup: func(l *testLoop, s *timerSet) []bool {
				s.reset(0, 10*ms)
				s.reset(1, 50*ms) // fires after 0 would have
				s.timers[0].Stop()
				return []bool{s.timers[0].Armed(), s.timers[1].Armed()}
			},
			armed: []bool{false, true}, want: []int{1},
		},
		{
			name: "unarmed timer stopped", n: 2,
			setup: func(l *testLoop, s *timerSet) []bool {
				s.timers[0].Stop()
				s.reset(1, 10*ms)
				return []bool{s.timers[0].Armed(), s.timers[1].Armed()}
			},
			armed: []bool{false, true}, want: []int{1},
		},
		{
			name: "stopped twice", n: 2,
			setup: func(l *testLoop, s *timerSet) []bool {
				s.reset(0, 10*ms)
				s.timers[0].Stop()
				s.timers[0].Stop()
				s.reset(1, 30*ms)
				return []bool{s.timers[0].Armed(), s.timers[1].Armed()}
			},
			armed: []bool{false, true}, want: []int{1},
		},
		{
			name: "stopped then re-armed", n: 2,
			setup: func(l *testLoop, s *timerSet) []bool {
				s.reset(0, 10*ms)
				s.timers[0].Stop()
				s.reset(0, 30*ms)
				s.reset(1, 15*ms)
				return []bool{s.timers[0].Armed(), s.timers[1].Armed()}
			},
			armed: []bool{true, true}, want: []int{1, 0},
		},
		{
			name: "first of several stopped", n: 4,
			setup: func(l *testLoop, s *timerSet) []bool {
				for i := range 4 {
					s.reset(i, time.Duration(i+1)*10*ms)
				}
				s.timers[0].Stop()
				s.timers[2].Stop()
				return []bool{s.timers[0].Armed(), s.timers[1].Armed(), s.timers[2].Armed(), s.timers[3].Armed()}
			},
			armed: []bool{false, true, false, true}, want: []int{1, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			var s *timerSet
			var armed []bool
			l.do(func() {
				s = newTimerSet(l, tt.n, len(tt.want))
				armed = tt.setup(l, s)
			})
			assert.Equal(t, tt.armed, armed, "Armed after setup")
			got := s.wait(t)
			// the last wanted timer is the latest armed one: a stopped
			// timer that still fired would be in got by now
			assert.Equal(t, tt.want, s.order(got))
			s.checkFirings(t, got)
		})
	}
}

// TestTimerStoppedByTimerDueTogether checks that a timer stopped by the
// function of one that fires in the same batch does not fire.
func TestTimerStoppedByTimerDueTogether(t *testing.T) {
	l := startLoop(t)
	var fired []string
	done := make(chan struct{})
	l.do(func() {
		var b *evloop.Timer
		a := l.NewTimer(func() {
			fired = append(fired, "a")
			b.Stop()
		})
		b = l.NewTimer(func() { fired = append(fired, "b") })
		end := l.NewTimer(func() {
			fired = append(fired, "end")
			close(done)
		})
		a.Reset(time.Millisecond)
		b.Reset(2 * time.Millisecond)
		end.Reset(100 * time.Millisecond)
		// hold the loop until both a and b are due
		time.Sleep(20 * time.Millisecond)
	})
	waitClosed(t, done, "timers")
	var got []string
	l.do(func() { got = slices.Clone(fired) })
	assert.Equal(t, []string{"a", "end"}, got)
}

// TestTimerRearmedInItsFunction checks a periodic timer.
func TestTimerRearmedInItsFunction(t *testing.T) {
	l := startLoop(t)
	var (
		whens  []time.Time
		armed  []bool
		before []bool
	)
	done := make(chan struct{})
	l.do(func() {
		var tm *evloop.Timer
		tm = l.NewTimer(func() {
			whens = append(whens, tm.When())
			before = append(before, tm.Armed())
			if len(whens) == 3 {
				close(done)
				return
			}
			tm.Reset(5 * time.Millisecond)
			armed = append(armed, tm.Armed())
		})
		tm.Reset(5 * time.Millisecond)
	})
	waitClosed(t, done, "periodic timer")
	l.do(func() {}) // the last firing's appends happen before this
	assert.Equal(t, []bool{false, false, false}, before, "Armed inside its function")
	assert.Equal(t, []bool{true, true}, armed, "Armed after re-arming")
	require.Len(t, whens, 3)
	assert.True(t, whens[0].Before(whens[1]) && whens[1].Before(whens[2]), "deadlines %v", whens)
}

// TestTimerHeapOrder arms, moves and stops many timers at random and
// checks that the ones left fire in deadline order.
func TestTimerHeapOrder(t *testing.T) {
	const n = 60
	rng := rand.New(rand.NewPCG(1, 2))
	offsets := rng.Perm(4 * n)[:n] // distinct deadlines, ms
	l := startLoop(t)
	var s *timerSet
	var want []int
	l.do(func() {
		deadline := make([]time.Duration, n)
		live := make([]bool, n)
		for i := range n {
			deadline[i] = time.Duration(offsets[i]+10) * time.Millisecond
		}
		s = newTimerSet(l, n, 0)
		for i := range n {
			s.reset(i, deadline[i])
			live[i] = true
		}
		// move and stop some, in random order
		for _, i := range rng.Perm(n)[:n/2] {
			switch rng.IntN(3) {
			case 0:
				s.timers[i].Stop()
				live[i] = false
			case 1:
				// a new deadline distinct from every other
				deadline[i] = time.Duration(4*n+10+i) * time.Millisecond
				s.reset(i, deadline[i])
			case 2:
				s.timers[i].Stop()
				s.reset(i, deadline[i])
			}
		}
		for i := range n {
			if live[i] {
				want = append(want, i)
			}
		}
		slices.SortFunc(want, func(a, b int) int { return int(deadline[a] - deadline[b]) })
		s.want = len(want)
	})
	got := s.wait(t)
	assert.Equal(t, want, s.order(got))
	s.checkFirings(t, got)
}

func TestStopEndsRun(t *testing.T) {
	tests := []struct {
		name string
		// stop makes the loop call Stop, from some place on the loop
		stop func(t *testing.T, l *testLoop)
	}{
		{"from a posted function", func(t *testing.T, l *testLoop) {
			l.Post(l.Stop)
		}},
		{"from a timer", func(t *testing.T, l *testLoop) {
			l.do(func() { l.NewTimer(l.Stop).Reset(10 * time.Millisecond) })
		}},
		{"from a handler", func(t *testing.T, l *testLoop) {
			r, w := pipe(t)
			var err error
			l.do(func() {
				err = l.Add(r, evloop.LevelRead, handlerFunc(func(uint32) { l.Stop() }))
			})
			require.NoError(t, err)
			_, err = unix.Write(w, []byte{1})
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			tt.stop(t, l)
			assert.NoError(t, l.waitEnd())
		})
	}
}

// TestStopSkipsTheRest checks that once Stop is called nothing else runs:
// not the functions posted after it, nor timers due.
func TestStopSkipsTheRest(t *testing.T) {
	l := startLoop(t)
	var ran atomic.Bool
	release := make(chan struct{})
	blocked := make(chan struct{})
	l.Post(func() {
		// due while the loop is held here
		l.NewTimer(func() { ran.Store(true) }).Reset(time.Millisecond)
		close(blocked)
		<-release
	})
	waitClosed(t, blocked, "the blocking function")
	// both are posted while the loop runs the function above, so they
	// run in one batch after it
	l.Post(l.Stop)
	l.Post(func() { ran.Store(true) })
	time.Sleep(5 * time.Millisecond)
	close(release)
	assert.NoError(t, l.waitEnd())
	assert.False(t, ran.Load(), "something ran after Stop")
}

func TestStopFromTimerSkipsTimersDueWithIt(t *testing.T) {
	l := startLoop(t)
	var ran atomic.Bool
	l.do(func() {
		l.NewTimer(l.Stop).Reset(time.Millisecond)
		l.NewTimer(func() { ran.Store(true) }).Reset(2 * time.Millisecond)
		time.Sleep(20 * time.Millisecond) // both due on the next round
	})
	assert.NoError(t, l.waitEnd())
	assert.False(t, ran.Load(), "a timer ran after Stop")
}

func TestLoopRemoveAndCloseStopEvents(t *testing.T) {
	tests := []struct {
		name   string
		remove func(l *testLoop, fd int)
		closes bool // remove closes fd
	}{
		{"Remove", func(l *testLoop, fd int) { l.Remove(fd) }, false},
		{"Close", func(l *testLoop, fd int) { l.Close(fd) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			var p [2]int
			require.NoError(t, unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC))
			r, w := p[0], p[1]
			t.Cleanup(func() { unix.Close(w) })
			var calls atomic.Int32
			var err error
			l.do(func() {
				err = l.Add(r, evloop.LevelRead, handlerFunc(func(uint32) { calls.Add(1) }))
			})
			require.NoError(t, err)
			_, err = unix.Write(w, []byte{1})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return calls.Load() > 0 }, waitTimeout, time.Millisecond, "handler not called")

			done := make(chan struct{})
			var before int32
			l.do(func() {
				tt.remove(l, r)
				before = calls.Load()
				// the pipe stays readable (level-triggered): a handler
				// still registered would be called on every round
				l.NewTimer(func() { close(done) }).Reset(30 * time.Millisecond)
			})
			waitClosed(t, done, "timer")
			assert.Equal(t, before, calls.Load(), "handler called after %s", tt.name)
			if tt.closes {
				_, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0)
				assert.ErrorIs(t, err, unix.EBADF, "descriptor still open")
			} else {
				unix.Close(r)
			}
		})
	}
}

func TestLoopAddErrors(t *testing.T) {
	l := startLoop(t)
	r, _ := pipe(t)
	var errs [2]error
	l.do(func() {
		h := handlerFunc(func(uint32) {})
		errs[0] = l.Add(r, evloop.LevelRead, h)
		errs[1] = l.Add(r, evloop.LevelRead, h) // already there
		l.Remove(r)
	})
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], unix.EEXIST)

	f, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(f) })
	l.do(func() { errs[0] = l.Add(f, evloop.LevelRead, handlerFunc(func(uint32) {})) })
	assert.ErrorIs(t, errs[0], unix.EPERM, "a regular file cannot be watched")
}

// accepted is a connection taken by a loop handler.
type accepted struct {
	fd            int
	remote, local netip.AddrPort
	goid          int64
}

// acceptOnLoop makes the loop accept on ln (level-triggered, as Accept's
// callers do) and returns the connections it takes. The descriptor is
// closed by the test's cleanup, on the loop.
func acceptOnLoop(t *testing.T, l *testLoop, ln net.Listener) <-chan accepted {
	t.Helper()
	lfd, err := evloop.ListenerFD(ln)
	require.NoError(t, err)
	conns := make(chan accepted, 64)
	var (
		acceptErr error // loop goroutine only
		addErr    error
	)
	l.do(func() {
		addErr = l.Add(lfd, evloop.LevelRead, handlerFunc(func(ev uint32) {
			if ev&unix.EPOLLIN == 0 {
				acceptErr = errors.New("listener event without EPOLLIN: " + strconv.FormatUint(uint64(ev), 16))
				return
			}
			for {
				fd, remote, local, err := evloop.Accept(lfd)
				if err == unix.EAGAIN {
					return
				}
				if err != nil {
					acceptErr = err
					return
				}
				conns <- accepted{fd, remote, local, goid()}
			}
		}))
	})
	if addErr != nil {
		unix.Close(lfd)
	}
	require.NoError(t, addErr)
	t.Cleanup(func() {
		if l.ended {
			unix.Close(lfd)
			return
		}
		var err error
		l.do(func() {
			err = acceptErr
			l.Close(lfd)
		})
		assert.NoError(t, err, "accept")
	})
	return conns
}

// listen listens on a loopback address, skipping the test when the
// address family is missing.
func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil && network == "tcp6" {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestAcceptDeliversConnections(t *testing.T) {
	tests := []struct {
		name, network, addr string
		conns               int
	}{
		{"ipv4 one", "tcp4", "127.0.0.1:0", 1},
		{"ipv4 several", "tcp4", "127.0.0.1:0", 8},
		{"ipv6", "tcp6", "[::1]:0", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t, tt.network, tt.addr)
			l := startLoop(t)
			conns := acceptOnLoop(t, l, ln)

			dialed := map[netip.AddrPort]net.Conn{}
			for range tt.conns {
				c, err := net.DialTimeout(tt.network, ln.Addr().String(), waitTimeout)
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				dialed[addrPort(t, c.LocalAddr())] = c
			}
			for range tt.conns {
				a := receive(t, conns, "accepted connection")
				t.Cleanup(func() { unix.Close(a.fd) })
				assert.Equal(t, l.goid, a.goid, "handler ran off the loop goroutine")
				c, ok := dialed[a.remote]
				if !assert.True(t, ok, "remote address %v is no dialed connection's local address", a.remote) {
					continue
				}
				delete(dialed, a.remote)
				assert.Equal(t, addrPort(t, c.RemoteAddr()), a.local, "local address")
				assert.Equal(t, addrPort(t, ln.Addr()), a.local, "local address is the listener's")

				// non-blocking, close-on-exec, no Nagle
				fl, err := unix.FcntlInt(uintptr(a.fd), unix.F_GETFL, 0)
				require.NoError(t, err)
				assert.NotZero(t, fl&unix.O_NONBLOCK, "O_NONBLOCK")
				fd, err := unix.FcntlInt(uintptr(a.fd), unix.F_GETFD, 0)
				require.NoError(t, err)
				assert.NotZero(t, fd&unix.FD_CLOEXEC, "FD_CLOEXEC")
				nodelay, err := unix.GetsockoptInt(a.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
				require.NoError(t, err)
				assert.Equal(t, 1, nodelay, "TCP_NODELAY")
				_, err = evloop.Read(a.fd, make([]byte, 16))
				assert.Equal(t, unix.EAGAIN, err, "Read with nothing sent")
			}
			assert.Empty(t, dialed, "connections not accepted")
		})
	}
}

// TestAcceptListenerFDLeavesListenerUsable checks that the net.Listener still
// accepts once the loop closed its duplicate.
func TestAcceptListenerFDLeavesListenerUsable(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	lfd, err := evloop.ListenerFD(ln)
	require.NoError(t, err)
	require.NoError(t, unix.Close(lfd))

	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(waitTimeout)))
	got := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		got <- err
	}()
	c, err := net.DialTimeout("tcp4", ln.Addr().String(), waitTimeout)
	require.NoError(t, err)
	c.Close()
	assert.NoError(t, receive(t, got, "Accept"))
}

func TestAcceptListenerFDWithoutDescriptor(t *testing.T) {
	_, err := evloop.ListenerFD(fakeListener{})
	assert.Error(t, err)
}

type fakeListener struct{}

func (fakeListener) Accept() (net.Conn, error) { return nil, errors.New("fake") }
func (fakeListener) Close() error              { return nil }
func (fakeListener) Addr() net.Addr            { return &net.TCPAddr{} }

// echo is a connection state machine on the loop: it sends back what it
// reads, edge-triggered, until the peer's end of stream, then closes.
type echo struct {
	l    *testLoop
	fd   int
	buf  []byte
	out  []byte
	eof  bool
	err  error
	done chan struct{}
}

func (e *echo) Ready(uint32) {
	for {
		progress := false
		for len(e.out) > 0 {
			n, err := evloop.Write(e.fd, e.out)
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				e.finish(err)
				return
			}
			e.out = e.out[n:]
			progress = true
		}
		if !e.eof && len(e.out) < 1<<20 {
			n, err := evloop.Read(e.fd, e.buf)
			switch {
			case err == unix.EAGAIN:
			case err != nil:
				e.finish(err)
				return
			case n == 0:
				e.eof, progress = true, true
			default:
				e.out = append(e.out, e.buf[:n]...)
				progress = true
			}
		}
		if e.eof && len(e.out) == 0 {
			e.finish(nil)
			return
		}
		if !progress {
			return
		}
	}
}

func (e *echo) finish(err error) {
	e.err = err
	e.l.Close(e.fd)
	close(e.done)
}

func TestLoopReadWriteRoundTrip(t *testing.T) {
	big := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{3, 4}).Read(big)
	tests := []struct {
		name    string
		payload []byte
	}{
		{"one byte", []byte{'x'}},
		{"a line", []byte("hello, loop\r\n")},
		{"more than the socket buffers", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t, "tcp4", "127.0.0.1:0")
			l := startLoop(t)
			conns := acceptOnLoop(t, l, ln)
			c, err := net.DialTimeout("tcp4", ln.Addr().String(), waitTimeout)
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			require.NoError(t, c.SetDeadline(time.Now().Add(waitTimeout)))

			a := receive(t, conns, "accepted connection")
			e := &echo{l: l, fd: a.fd, buf: make([]byte, 64<<10), done: make(chan struct{})}
			var addErr error
			l.do(func() { addErr = l.Add(a.fd, evloop.EdgeReadWrite, e) })
			if addErr != nil {
				unix.Close(a.fd)
			}
			require.NoError(t, addErr)

			wrote := make(chan error, 1)
			go func() {
				_, err := c.Write(tt.payload)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				wrote <- err
			}()
			got, err := io.ReadAll(c)
			require.NoError(t, err, "reading the echo")
			require.NoError(t, receive(t, wrote, "writing"))
			assert.True(t, bytes.Equal(tt.payload, got), "echo of %d bytes: got %d bytes", len(tt.payload), len(got))

			waitClosed(t, e.done, "echo end")
			var echoErr error
			l.do(func() { echoErr = e.err })
			assert.NoError(t, echoErr)
		})
	}
}

func TestLoopReadWriteEmpty(t *testing.T) {
	// no system call for an empty buffer, even on a bad descriptor
	n, err := evloop.Read(-1, nil)
	assert.Zero(t, n)
	assert.NoError(t, err)
	n, err = evloop.Write(-1, []byte{})
	assert.Zero(t, n)
	assert.NoError(t, err)

	_, err = evloop.Read(-1, make([]byte, 1))
	assert.Equal(t, unix.EBADF, err)
	_, err = evloop.Write(-1, []byte{1})
	assert.Equal(t, unix.EBADF, err)
}

// writeResult is how a write after Connect turned out.
type writeResult struct {
	n       int
	err     error
	eagains int
	events  uint32 // seen by the handler, if any
}

// connectAndWrite connects to addr on the loop and writes msg as soon as
// the connection allows, retrying after EAGAIN: from a timer every
// millisecond (poll) or when the descriptor becomes ready (handler).
func connectAndWrite(t *testing.T, l *testLoop, addr netip.AddrPort, msg []byte, byHandler bool) writeResult {
	t.Helper()
	res := make(chan writeResult, 1)
	var connErr error
	l.do(func() {
		fd, err := evloop.Connect(addr)
		if err != nil {
			connErr = err
			return
		}
		t.Cleanup(func() {
			if l.ended {
				unix.Close(fd)
			} else {
				l.do(func() { l.Close(fd) })
			}
		})
		deadline := l.Now().Add(waitTimeout / 2)
		var (
			r    writeResult
			tm   *evloop.Timer
			over bool
		)
		try := func() {
			if over {
				return
			}
			n, err := evloop.Write(fd, msg)
			if err == unix.EAGAIN && l.Now().Before(deadline) {
				r.eagains++
				if !byHandler || !tm.Armed() {
					// the handler case keeps a slow timer as a safety net
					// only, so that a lost event fails instead of hanging
					d := time.Millisecond
					if byHandler {
						d = waitTimeout / 4
					}
					tm.Reset(d)
				}
				return
			}
			over = true
			tm.Stop()
			r.n, r.err = n, err
			res <- r
		}
		tm = l.NewTimer(try)
		if byHandler {
			if err := l.Add(fd, evloop.EdgeReadWrite, handlerFunc(func(ev uint32) {
				r.events |= ev
				try()
			})); err != nil {
				connErr = err
				return
			}
			// the first try waits for an event
			tm.Reset(waitTimeout / 4)
			return
		}
		try()
	})
	require.NoError(t, connErr, "Connect")
	return receive(t, res, "write after Connect")
}

func TestConnectThenWrite(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	port := addrPort(t, ln.Addr()).Port()
	tests := []struct {
		name      string
		addr      netip.AddrPort
		byHandler bool
	}{
		{"ipv4 polled", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), false},
		{"ipv4 by readiness", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), true},
		{"ipv4-mapped ipv6", netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), port), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoop(t)
			accepted := make(chan net.Conn, 1)
			acceptErr := make(chan error, 1)
			go func() {
				ln.(*net.TCPListener).SetDeadline(time.Now().Add(waitTimeout))
				c, err := ln.Accept()
				if err != nil {
					acceptErr <- err
					return
				}
				accepted <- c
			}()
			msg := []byte("hello from the loop")
			r := connectAndWrite(t, l, tt.addr, msg, tt.byHandler)
			require.NoError(t, r.err, "Write after %d EAGAIN", r.eagains)
			assert.Equal(t, len(msg), r.n)
			if tt.byHandler {
				assert.NotZero(t, r.events&unix.EPOLLOUT, "events %#x", r.events)
			}

			var c net.Conn
			select {
			case c = <-accepted:
			case err := <-acceptErr:
				t.Fatalf("accept: %v", err)
			case <-time.After(waitTimeout):
				t.Fatal("no connection accepted")
			}
			t.Cleanup(func() { c.Close() })
			require.NoError(t, c.SetReadDeadline(time.Now().Add(waitTimeout)))
			got := make([]byte, len(msg))
			_, err := io.ReadFull(c, got)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
		})
	}
}

func TestConnectRefused(t *testing.T) {
	// a port nobody listens on: listen, note it, close
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	addr := addrPort(t, ln.Addr())
	require.NoError(t, ln.Close())

	for _, byHandler := range []bool{false, true} {
		t.Run("byHandler="+strconv.FormatBool(byHandler), func(t *testing.T) {
			l := startLoop(t)
			r := connectAndWrite(t, l, addr, []byte("anyone?"), byHandler)
			assert.ErrorIs(t, r.err, unix.ECONNREFUSED, "Write after %d EAGAIN", r.eagains)
			if byHandler {
				assert.NotZero(t, r.events&(unix.EPOLLERR|unix.EPOLLHUP), "events %#x", r.events)
			}
		})
	}
}

// TestPostAfterRun: a Post once Run has returned does nothing (it wrote
// to the closed wake-up descriptor's number, which a new file may have).
func TestPostAfterRun(t *testing.T) {
	l, err := evloop.New()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	l.Post(l.Stop)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	ran := false
	l.Post(func() { ran = true })
	require.NoError(t, r.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	n, _ := r.Read(make([]byte, 8))
	assert.Zero(t, n, "bytes written to a descriptor the loop no longer owns")
	assert.False(t, ran)
}
