// Package traffic sends probes (HTTP requests or TCP connects) at a steady
// rate from one client and records every request: when, outcome, latency,
// status, which app answered and what the app saw. Recordings are what
// traffic assertions (package assert) and reports read.
package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"halab/internal/labapp"
)

// Request is one recorded probe.
type Request struct {
	Seq     int           `json:"seq"`
	Start   time.Time     `json:"start"`
	Latency time.Duration `json:"latency"`
	// OK is true for a completed connect, or an HTTP answer with a status
	// below 500 (the app, not an error page of the proxy, answered 2xx-4xx).
	OK bool `json:"ok"`
	// Err says why a probe failed ("connect: connection refused",
	// "timeout", "status 502").
	Err    string `json:"err,omitempty"`
	Status int    `json:"status,omitempty"`
	// App is the app that answered (labapp's "app", or the X-App header).
	App string `json:"app,omitempty"`
	// Seen is what the app saw, when it answered with labapp JSON.
	Seen *labapp.Seen `json:"seen,omitempty"`
	// SetCookie are the Set-Cookie headers as the client received them.
	SetCookie []string `json:"set_cookie,omitempty"`
	// Header holds the response headers (first value of each).
	Header map[string]string `json:"header,omitempty"`
	// Cookie is the Cookie header the client sent.
	Cookie string `json:"cookie,omitempty"`
	// Local is the client's address of the connection (ip:port).
	Local string `json:"local,omitempty"`
}

// LocalIP is the client's IP address of the request's connection.
func (r *Request) LocalIP() string {
	h, _, err := net.SplitHostPort(r.Local)
	if err != nil {
		return r.Local
	}
	return h
}

// Recording holds the requests of one traffic source. It is safe for
// concurrent use: probes are added while readers take snapshots.
type Recording struct {
	Name   string `json:"name"`
	From   string `json:"from"`   // client node
	Target string `json:"target"` // URL or host:port
	Kind   string `json:"kind"`   // http or tcp

	mu       sync.Mutex
	start    time.Time
	end      time.Time
	requests []Request
	done     chan struct{}
}

// NewRecording returns an empty recording.
func NewRecording(name, from, kind, target string) *Recording {
	return &Recording{Name: name, From: from, Kind: kind, Target: target, done: make(chan struct{})}
}

// Add records a request.
func (r *Recording) Add(q Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.start.IsZero() || q.Start.Before(r.start) {
		r.start = q.Start
	}
	q.Seq = len(r.requests)
	r.requests = append(r.requests, q)
}

// Finish marks the recording complete.
func (r *Recording) Finish(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.end.IsZero() {
		r.end = at
		close(r.doneLocked())
	}
}

// Done is closed when the traffic has ended.
func (r *Recording) Done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.doneLocked()
}

func (r *Recording) doneLocked() chan struct{} {
	if r.done == nil {
		r.done = make(chan struct{})
	}
	return r.done
}

// Requests returns a copy of the requests so far.
func (r *Recording) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Span returns when the traffic started and ended (end is zero while it runs).
func (r *Recording) Span() (start, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.start, r.end
}

// recordingJSON is the stored form of a recording.
type recordingJSON struct {
	Name     string    `json:"name"`
	From     string    `json:"from"`
	Target   string    `json:"target"`
	Kind     string    `json:"kind"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Requests []Request `json:"requests"`
}

// MarshalJSON stores the recording with its requests.
func (r *Recording) MarshalJSON() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(recordingJSON{r.Name, r.From, r.Target, r.Kind, r.start, r.end, r.requests})
}

// UnmarshalJSON reads a stored recording (finished).
func (r *Recording) UnmarshalJSON(b []byte) error {
	var j recordingJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("traffic recording: %w", err)
	}
	r.Name, r.From, r.Target, r.Kind = j.Name, j.From, j.Target, j.Kind
	r.start, r.end, r.requests = j.Start, j.End, j.Requests
	r.done = make(chan struct{})
	close(r.done)
	return nil
}

// DialFunc opens connections for probes (inside a node's namespace, in a
// lab).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
