package capture

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// DefaultReorderWindow is how long Trace holds packets back to print the
// packets of several captures in time order. Captures hand packets over in
// blocks at most 10 ms old; the rest is scheduling slack.
const DefaultReorderWindow = 100 * time.Millisecond

// TraceOptions tunes [Trace].
type TraceOptions struct {
	Filter Filter // packets to print; the zero Filter prints all
	// ReorderWindow is how long packets are held back for ordering; 0
	// means DefaultReorderWindow.
	ReorderWindow time.Duration
	// Started, when set, is called once every capture is running (for a
	// "listening on ..." message, or to start traffic in tests).
	Started func()
}

// Trace captures on every spec and writes one line per packet passing the
// filter to w ([FormatLine]), in time order across captures, until ctx
// ends. It then prints what is still held back, stops the captures and
// returns their counts; the error joins write errors and a *DropError per
// capture that lost packets. Packets of the specs are not kept in memory
// (Discard is forced); their Out field is ignored.
func Trace(ctx context.Context, w io.Writer, specs []Spec, opts TraceOptions) ([]Stats, error) {
	window := opts.ReorderWindow
	if window <= 0 {
		window = DefaultReorderWindow
	}
	ch := make(chan Packet, 1024)
	var caps []*Capture
	stopAll := func() ([]Stats, error) {
		var errs []error
		stats := make([]Stats, len(caps))
		for i, c := range caps {
			st, err := c.Stop()
			stats[i] = st
			errs = append(errs, err)
		}
		return stats, errors.Join(errs...)
	}
	for _, s := range specs {
		s.Discard, s.Out = true, ch
		c, err := Start(ctx, s)
		if err != nil {
			go drain(ch, caps)
			_, _ = stopAll()
			return nil, err
		}
		caps = append(caps, c)
	}

	if opts.Started != nil {
		opts.Started()
	}
	allDone := make(chan struct{})
	go func() {
		for _, c := range caps {
			<-c.Done()
		}
		close(allDone)
	}()

	var held packetHeap
	var werr error
	emit := func(until time.Time) {
		for held.Len() > 0 && (until.IsZero() || held[0].Time.Before(until)) {
			p := heap.Pop(&held).(Packet)
			if werr != nil || !opts.Filter.Match(&p) {
				continue
			}
			if _, err := fmt.Fprintln(w, FormatLine(&p)); err != nil {
				werr = fmt.Errorf("trace: write: %w", err)
			}
		}
	}
	tick := time.NewTicker(window / 4)
	defer tick.Stop()
loop:
	for {
		select {
		case p := <-ch:
			heap.Push(&held, p)
		case now := <-tick.C:
			emit(now.Add(-window))
		case <-allDone:
			break loop
		}
	}
	// Every capture has stopped: whatever is left in the channel is the
	// last of their packets.
	for {
		select {
		case p := <-ch:
			heap.Push(&held, p)
			continue
		default:
		}
		break
	}
	emit(time.Time{})
	stats, err := stopAll()
	return stats, errors.Join(werr, err)
}

// drain empties ch until the captures are done, so that a failed Trace
// start never leaves a capture blocked on a send.
func drain(ch <-chan Packet, caps []*Capture) {
	done := make(chan struct{})
	go func() {
		for _, c := range caps {
			<-c.Done()
		}
		close(done)
	}()
	for {
		select {
		case <-ch:
		case <-done:
			return
		}
	}
}

// packetHeap orders packets by time (oldest first).
type packetHeap []Packet

func (h packetHeap) Len() int           { return len(h) }
func (h packetHeap) Less(i, j int) bool { return h[i].Time.Before(h[j].Time) }
func (h packetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)        { *h = append(*h, x.(Packet)) }
func (h *packetHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}
