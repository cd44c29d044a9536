package ui

import (
	"maps"
	"slices"
	"sync"
	"time"

	"halab/scenarios"
	"halab/scenarios/traffic"
)

// The page's timeline is a scenarios.Timeline, the data the HTML report
// draws, and reports.TimelineSVG draws both: one rendering for the live
// view and the report.

// recorder accumulates the timeline of a running server: VRRP state and VIP
// holder samples (kept when something changed), events, the probe's
// requests and the recordings of a scenario's traffic.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	events   []Event
	nodes    []string // nodes with a VRRP lane, in order of appearance
	vips     []string
	samples  []scenarios.Sample
	requests []ProbeResult
	traffic  []*traffic.Recording
}

const (
	maxEvents   = 2000
	maxRequests = 20000
	maxSamples  = 5000
)

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start}
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

func (r *recorder) addRecording(rec *traffic.Recording) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.traffic = append(r.traffic, rec)
}

// observe records a state as a sample when it differs from the last one.
func (r *recorder) observe(s *State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sm := scenarios.Sample{Time: s.Time, VRRP: map[string]string{}, Holders: map[string][]string{}}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		state := nodeVRRPState(n)
		seen := slices.Contains(r.nodes, n.Name)
		if !seen && state == "" {
			continue // nodes that never ran a VRRP daemon get no lane
		}
		if !seen {
			r.nodes = append(r.nodes, n.Name)
		}
		if state == "" {
			state = "DOWN"
		}
		sm.VRRP[n.Name] = state
	}
	for _, vip := range slices.Sorted(maps.Keys(s.VIPs)) {
		if !slices.Contains(r.vips, vip) {
			r.vips = append(r.vips, vip)
		}
	}
	for _, vip := range r.vips {
		sm.Holders[vip] = slices.Clone(s.VIPs[vip])
	}
	if k := len(r.samples); k > 0 {
		last := r.samples[k-1]
		if maps.Equal(last.VRRP, sm.VRRP) && maps.EqualFunc(last.Holders, sm.Holders, slices.Equal) {
			return
		}
	}
	r.samples = append(r.samples, sm)
	if n := len(r.samples) - maxSamples; n > 0 {
		r.samples = slices.Delete(r.samples, 0, n)
	}
}

// snapshot returns the timeline up to now.
func (r *recorder) snapshot(now time.Time) scenarios.Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	tl := scenarios.Timeline{Start: r.start, End: now, Nodes: slices.Clone(r.nodes), VIPs: slices.Clone(r.vips),
		Samples: slices.Clone(r.samples)}
	for _, e := range r.events {
		tl.Events = append(tl.Events, scenarios.Event{Time: e.Time, Kind: e.Kind, Text: e.Text})
	}
	if len(r.requests) > 0 {
		rec := traffic.NewRecording("probe", "", "http", "")
		for i, p := range r.requests {
			rec.Add(traffic.Request{Seq: i + 1, Start: p.Time, Latency: time.Duration(p.Latency * float64(time.Millisecond)),
				OK: p.OK, Status: p.Status, App: p.App, Err: p.Error})
		}
		tl.Traffic = append(tl.Traffic, rec)
	}
	tl.Traffic = append(tl.Traffic, r.traffic...)
	return tl
}

// requestsSince returns the probe's requests after t.
func (r *recorder) requestsSince(t time.Time) []ProbeResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ProbeResult
	for _, p := range r.requests {
		if p.Time.After(t) {
			out = append(out, p)
		}
	}
	return out
}

func (r *recorder) recentEvents(n int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events[max(0, len(r.events)-n):])
}
