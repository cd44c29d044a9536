package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"halab/lab"
)

// ProbeResult is one request of the probe.
type ProbeResult struct {
	Time    time.Time `json:"time"`
	OK      bool      `json:"ok"`
	Status  int       `json:"status,omitempty"`
	App     string    `json:"app,omitempty"` // the app that answered (labapp's "app")
	Latency float64   `json:"latency_ms"`
	Error   string    `json:"error,omitempty"`
}

// ProbeSpec says what to probe.
type ProbeSpec struct {
	Node string        `json:"node"` // default: the first client node
	URL  string        `json:"url"`
	Rate float64       `json:"rate"` // requests per second, default 5
	For  time.Duration `json:"-"`    // 0: until stopped
}

// prober runs at most one HTTP probe at a time from a node: a new
// connection per request (no keep-alive), so a failover shows up at once.
type prober struct {
	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	spec    ProbeSpec
	results func(ProbeResult)
}

// running returns the current spec and whether a probe runs.
func (p *prober) running() (ProbeSpec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spec, p.cancel != nil
}

func (p *prober) start(ctx context.Context, n *lab.Node, spec ProbeSpec) error {
	if spec.URL == "" {
		return errors.New("probe: no url")
	}
	if spec.Rate <= 0 {
		spec.Rate = 5
	}
	spec.Rate = min(spec.Rate, 50)
	p.stop()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done, p.spec = cancel, done, spec
	p.mu.Unlock()
	go func() {
		defer close(done)
		p.loop(ctx, n, spec)
	}()
	return nil
}

func (p *prober) stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (p *prober) loop(ctx context.Context, n *lab.Node, spec ProbeSpec) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true, Proxy: nil},
	}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(time.Duration(float64(time.Second) / spec.Rate))
	defer tick.Stop()
	var end <-chan time.Time
	if spec.For > 0 {
		end = time.After(spec.For)
	}
	// Requests run concurrently so that timeouts do not slow the rate
	// down: an outage shows as many failures, not as a quiet gap.
	var wg sync.WaitGroup
	defer wg.Wait()
	inflight := make(chan struct{}, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-tick.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			p.results(ProbeResult{Time: time.Now(), Error: "not sent: 64 requests in flight"})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inflight }()
			r := probeOnce(ctx, client, spec.URL)
			if ctx.Err() == nil {
				p.results(r)
			}
		}()
	}
}

func probeOnce(ctx context.Context, client *http.Client, url string) ProbeResult {
	start := time.Now()
	r := ProbeResult{Time: start}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	resp, err := client.Do(req)
	if err != nil {
		r.Error = shortErr(err)
		r.Latency = msSince(start)
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.Latency = msSince(start)
	r.Status = resp.StatusCode
	if err != nil {
		r.Error = shortErr(err)
		return r
	}
	var seen struct {
		App string `json:"app"`
	}
	if json.Unmarshal(body, &seen) == nil {
		r.App = seen.App
	}
	r.OK = resp.StatusCode < 500
	if !r.OK {
		r.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return r
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// shortErr drops the URL from client errors.
func shortErr(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
