package wrkbench

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const report = `Running 1s test @ http://127.0.0.1:9002/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.10ms    3.05ms  26.16ms   69.70%
    Req/Sec     2.83k   237.09     3.17k    75.00%
  Latency Distribution
     50%    7.72ms
     75%    9.94ms
     90%   12.21ms
     99%   {P99}
  5705 requests in 1.02s, 2.29MB read
{ERRS}Requests/sec:   5611.51
Transfer/sec:      2.25MB
`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, p99, errs string
		want            Result
	}{
		{"milliseconds", "16.90ms", "", Result{RPS: 5611.51, P99ms: 16.90}},
		{"microseconds", "950.00us", "", Result{RPS: 5611.51, P99ms: 0.95}},
		{"seconds", "1.20s", "", Result{RPS: 5611.51, P99ms: 1200}},
		{"errors", "16.90ms", "  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 7\n",
			Result{RPS: 5611.51, P99ms: 16.90, Errors: 13}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := strings.NewReplacer("{P99}", tc.p99, "{ERRS}", tc.errs).Replace(report)
			got := Parse(out)
			assert.InDelta(t, tc.want.RPS, got.RPS, 1e-9)
			assert.InDelta(t, tc.want.P99ms, got.P99ms, 1e-9)
			assert.Equal(t, tc.want.Errors, got.Errors)
		})
	}
	assert.Equal(t, Result{}, Parse("wrk: connection refused"))
}

func TestArgs(t *testing.T) {
	assert.Equal(t,
		[]string{"wrk", "-t2", "-c50", "-d3s", "--latency", "--timeout", "5s", "-H", "Connection: close", "http://10.0.1.11/"},
		Args(50, 3*time.Second, Load{Headers: []string{"Connection: close"}}, "http://10.0.1.11/"))
	assert.Equal(t,
		[]string{"wrk", "-t2", "-c50", "-d3s", "--latency", "--timeout", "5s", "-s", "/tmp/c.lua", "http://10.0.1.11/"},
		Args(50, 3*time.Second, Load{Script: "/tmp/c.lua"}, "http://10.0.1.11/"))
}

// TestThreadCookies runs wrk with the script against a local server: each
// connection always carries one cookie, and both cookies come.
func TestThreadCookies(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	var mu sync.Mutex
	seen := map[string]map[string]int{} // connection -> cookie -> requests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if seen[r.RemoteAddr] == nil {
			seen[r.RemoteAddr] = map[string]int{}
		}
		seen[r.RemoteAddr][r.Header.Get("Cookie")]++
	}))
	t.Cleanup(srv.Close)
	script := filepath.Join(t.TempDir(), "cookies.lua")
	require.NoError(t, os.WriteFile(script, []byte(ThreadCookies([]string{"S=a~1", "S=b~2"})), 0o644))
	args := Args(4, time.Second, Load{Script: script}, srv.URL+"/")
	out, err := exec.Command(wrk, args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	mu.Lock()
	defer mu.Unlock()
	byCookie := map[string]int{}
	for conn, cookies := range seen {
		assert.Len(t, cookies, 1, "connection %s", conn)
		for c := range cookies {
			byCookie[c]++
		}
	}
	assert.Equal(t, map[string]int{"S=a~1": 2, "S=b~2": 2}, byCookie, "connections a cookie")
}

func TestCutHostPort(t *testing.T) {
	h, p, ok := cutHostPort("10.0.1.11:80")
	assert.True(t, ok)
	assert.Equal(t, "10.0.1.11", h)
	assert.Equal(t, "80", p)
	_, _, ok = cutHostPort("10.0.1.11")
	assert.False(t, ok)
}

func TestSummarize(t *testing.T) {
	rs := []Result{
		{RPS: 100, P99ms: 10, Errors: 1, CPUPerReq: 50},
		{RPS: 300, P99ms: 30, CPUPerReq: 70},
		{RPS: 200, P99ms: 90, Errors: 2, CPUPerReq: 60},
	}
	assert.Equal(t, Result{RPS: 200, P99ms: 30, Errors: 3, CPUPerReq: 60}, summarize(rs))
	assert.Equal(t, Result{RPS: 200, P99ms: 20, Errors: 1, CPUPerReq: 60}, summarize(rs[:2]), "an even count: the middle two's mean")
	assert.Equal(t, Result{}, summarize(nil))
}

func TestRatios(t *testing.T) {
	ref := []Result{{RPS: 100, P99ms: 10}, {RPS: 200, P99ms: 10}, {RPS: 50, P99ms: 0}}
	got := []Result{{RPS: 110, P99ms: 12}, {RPS: 180, P99ms: 9}, {RPS: 100, P99ms: 5}}
	rps, p99 := roundRatios(ref, got)
	// rounds compared with their own reference: 1.1, 0.9, 2.0 (median
	// 1.1); p99: 1.2, 0.9, the round without a reference p99 left out
	// (median 1.05)
	assert.InDeltaSlice(t, []float64{1.1, 0.9, 2.0}, rps, 1e-9)
	assert.InDeltaSlice(t, []float64{1.2, 0.9}, p99, 1e-9)
	assert.InDelta(t, 1.1, medianOf(rps), 1e-9)
	assert.InDelta(t, 1.05, medianOf(p99), 1e-9)
	assert.Equal(t, "1.10 0.90 2.00", joinRatios(rps))
	assert.Empty(t, joinRatios(nil))
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		rps, p99 float64
		want     string
	}{
		{1.0, 1.2, "target met"},
		{1.3, 0.7, "target met"},
		{0.99, 1.0, "target missed: requests a second under 1.0×"},
		{1.1, 1.21, "target missed: p99 over 1.2×"},
		{0.9, 1.5, "target missed: requests a second under 1.0×, p99 over 1.2×"},
	} {
		assert.Equal(t, tc.want, verdict(tc.rps, tc.p99), "%v %v", tc.rps, tc.p99)
	}
}

func TestMedianInterval(t *testing.T) {
	for _, tc := range []struct {
		name      string
		vs        []float64
		lo, hi, p float64
	}{
		{"none", nil, 0, 0, 0},
		{"one", []float64{1.1}, 1.1, 1.1, 0},
		{"five: their whole range", []float64{1.13, 0.93, 0.96, 1.13, 0.84}, 0.84, 1.13, 1 - 2.0/32},
		{"fifteen: the 4th and 12th", []float64{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 4, 12, 1 - 2*576.0/32768},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, p := medianInterval(tc.vs)
			assert.InDelta(t, tc.lo, lo, 1e-9)
			assert.InDelta(t, tc.hi, hi, 1e-9)
			assert.InDelta(t, tc.p, p, 1e-9)
		})
	}
}

func TestSpread(t *testing.T) {
	assert.Equal(t, "3 of 5 rounds at 1.0× or more, the median within 0.84–1.13 with 94 % confidence: the rounds do not settle the target",
		spread([]float64{1.13, 0.93, 1.0, 1.13, 0.84}, 1.0))
	assert.Equal(t, "5 of 5 rounds at 1.0× or more, the median within 1.02–1.30 with 94 % confidence",
		spread([]float64{1.1, 1.2, 1.02, 1.3, 1.15}, 1.0))
	assert.Equal(t, "no rounds", spread(nil, 1.0))
}
