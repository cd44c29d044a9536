package ui

import (
	"slices"
	"sync"
	"time"
)

// Timeline is what the timeline drawing shows: per-node VRRP state lanes,
// request outcomes and events between Start and End. It is plain data so
// that the live page and the HTML report draw it with one function
// (RenderTimeline).
type Timeline struct {
	Start, End time.Time
	Lanes      []Lane
	Requests   []ProbeResult
	Events     []Event
}

// Lane is one node's VRRP state over time.
type Lane struct {
	Name  string
	Spans []Span
}

// Span is a state held from From to To.
type Span struct {
	From, To time.Time
	State    string
}

// recorder accumulates the timeline of a running server.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	events   []Event
	lanes    map[string][]Span
	order    []string
	requests []ProbeResult
}

const (
	maxEvents   = 2000
	maxRequests = 20000
)

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, lanes: map[string][]Span{}}
}

func (r *recorder) addEvents(evs ...Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	if n := len(r.events) - maxEvents; n > 0 {
		r.events = slices.Delete(r.events, 0, n)
	}
}

func (r *recorder) addRequest(p ProbeResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, p)
	if n := len(r.requests) - maxRequests; n > 0 {
		r.requests = slices.Delete(r.requests, 0, n)
	}
}

// observe extends the lanes with a sample.
func (r *recorder) observe(s *State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range s.Nodes {
		n := &s.Nodes[i]
		state := nodeVRRPState(n)
		spans, seen := r.lanes[n.Name]
		if !seen && state == "" {
			continue // nodes that never ran a VRRP daemon get no lane
		}
		if !seen {
			r.order = append(r.order, n.Name)
		}
		if state == "" {
			state = "NONE"
		}
		if k := len(spans); k > 0 && spans[k-1].State == state {
			spans[k-1].To = s.Time
		} else {
			if k > 0 {
				spans[k-1].To = s.Time
			}
			spans = append(spans, Span{From: s.Time, To: s.Time, State: state})
		}
		r.lanes[n.Name] = spans
	}
}

// snapshot returns the timeline up to now.
func (r *recorder) snapshot(now time.Time) Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	tl := Timeline{Start: r.start, End: now, Events: slices.Clone(r.events), Requests: slices.Clone(r.requests)}
	for _, name := range r.order {
		spans := slices.Clone(r.lanes[name])
		if k := len(spans); k > 0 {
			spans[k-1].To = now
		}
		tl.Lanes = append(tl.Lanes, Lane{Name: name, Spans: spans})
	}
	return tl
}

func (r *recorder) recentEvents(n int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events[max(0, len(r.events)-n):])
}
