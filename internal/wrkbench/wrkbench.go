// Package wrkbench drives Debian's wrk for the benchmarks that put one of
// halab's daemons next to the Debian daemon it replaces: it builds the
// command line, reads wrk's report and runs the comparison rounds.
package wrkbench

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Result is what one wrk run measured.
type Result struct {
	RPS    float64 // requests per second
	P99ms  float64 // 99th percentile latency in milliseconds
	Errors float64 // socket errors and non-2xx/3xx answers
	// CPUPerReq is the daemon's CPU time per request in microseconds,
	// when the caller measured it: less sensitive than req/s to other
	// load on a shared machine.
	CPUPerReq float64
}

// Load is what wrk sends besides the URL: extra request headers, and a
// Lua script (a file wrk can read) when there is one.
type Load struct {
	Headers []string
	Script  string
}

// Args is wrk's command line for conns connections over two threads for d,
// with load, against url.
func Args(conns int, d time.Duration, load Load, url string) []string {
	args := []string{"wrk", "-t2", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency", "--timeout", "5s"}
	for _, h := range load.Headers {
		args = append(args, "-H", h)
	}
	if load.Script != "" {
		args = append(args, "-s", load.Script)
	}
	return append(args, url)
}

// ThreadCookies is a wrk script that gives each of wrk's threads in turn
// one of cookies (NAME=VALUE) as its Cookie header. With as many threads
// as cookies naming different servers, the connections spread over the
// servers and each sticks to its own, as clients holding persistence
// cookies do.
func ThreadCookies(cookies []string) string {
	var b strings.Builder
	b.WriteString("-- each wrk thread in turn sends one of the cookies\nlocal cookies = {")
	for i, c := range cookies {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(c))
	}
	b.WriteString(`}
local n = 0
function setup(thread)
  n = n + 1
  thread:set("cookie", cookies[(n - 1) % #cookies + 1])
end
function init(args)
  wrk.headers["Cookie"] = cookie
end
`)
	return b.String()
}

var (
	rpsRE  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99RE  = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s)`)
	errsRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// Parse reads wrk's report (run with --latency).
func Parse(out string) Result {
	var r Result
	if m := rpsRE.FindStringSubmatch(out); m != nil {
		r.RPS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := p99RE.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		switch m[2] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		r.P99ms = v
	}
	for _, m := range errsRE.FindAllStringSubmatch(out, -1) {
		for _, g := range m[1:] {
			if n, err := strconv.Atoi(strings.TrimSpace(g)); err == nil {
				r.Errors += float64(n)
			}
		}
	}
	return r
}

// defaultRounds is how many rounds Compare runs unless HALAB_BENCH_ROUNDS
// says otherwise. In the lab one round's ratio scatters by ±10–15 %
// (haproxy's, with two threads, by more: its throughput depends on how a
// run's connections fall on its threads); fifteen rounds put the sign
// test's 96 % interval of the median between the 4th and the 12th ratio,
// about ±5 % around it, where five rounds could only give their whole
// range.
const defaultRounds = 15

// Compare runs every case against both implementations in rounds, each
// round running the two back to back, the first going first in every
// other round. It reports sub-benchmarks CASE/IMPL with the median over
// the rounds of req/s, p99-ms and, when measured, cpu-us/req, and the
// errors of all rounds. The second implementation's also report
// req/s-ratio and p99-ratio: the median over the rounds of its figure
// divided by the first one's in the same round, and log them against the
// issues' targets with the ratio of every round and how far the rounds
// settle the requests-a-second target (see spread). The machine is shared
// and its speed drifts by more than the differences measured (±15 % from
// one round to the next in the lab); the two runs of one round see the
// same machine, so the ratio of a round is the steadier comparison.
func Compare(b *testing.B, impls [2]string, cases []string, run func(cs, impl string) Result) {
	rounds := defaultRounds
	if n, err := strconv.Atoi(os.Getenv("HALAB_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	results := map[string][]Result{}
	b.ResetTimer()
	for _, cs := range cases {
		for round := range rounds {
			order := []string{impls[0], impls[1]}
			if round%2 == 1 {
				order = []string{impls[1], impls[0]}
			}
			for _, impl := range order {
				k := cs + "/" + impl
				results[k] = append(results[k], run(cs, impl))
			}
		}
	}
	b.StopTimer()
	for _, cs := range cases {
		ref := results[cs+"/"+impls[0]]
		for i, impl := range impls {
			rs := results[cs+"/"+impl]
			b.Run(cs+"/"+impl, func(b *testing.B) {
				s := summarize(rs)
				b.ReportMetric(s.RPS, "req/s")
				b.ReportMetric(s.P99ms, "p99-ms")
				b.ReportMetric(s.Errors, "errors")
				if s.CPUPerReq > 0 {
					b.ReportMetric(s.CPUPerReq, "cpu-us/req")
				}
				if i == 1 {
					rr, pr := roundRatios(ref, rs)
					rps, p99 := medianOf(rr), medianOf(pr)
					b.ReportMetric(rps, "req/s-ratio")
					b.ReportMetric(p99, "p99-ratio")
					b.Logf("%s at %.2f× %s's requests a second, p99 %.2f× — %s (requests a second, round by round: %s; %s)",
						impl, rps, impls[0], p99, verdict(rps, p99), joinRatios(rr), spread(rr, targetRPSRatio))
				}
			})
		}
	}
}

// The issues' targets for halab's daemons against the Debian ones: at
// least as many requests a second, a p99 within 1.2 times.
const (
	targetRPSRatio = 1.0
	targetP99Ratio = 1.2
)

// verdict tells whether ratios meet the targets, and which they miss.
func verdict(rps, p99 float64) string {
	var miss []string
	if rps < targetRPSRatio {
		miss = append(miss, fmt.Sprintf("requests a second under %.1f×", targetRPSRatio))
	}
	if p99 > targetP99Ratio {
		miss = append(miss, fmt.Sprintf("p99 over %.1f×", targetP99Ratio))
	}
	if len(miss) == 0 {
		return "target met"
	}
	return "target missed: " + strings.Join(miss, ", ")
}

// spread says how far the rounds' ratios settle the median against
// target: the rounds at or above it, and an interval that holds the
// median with a known probability whatever the ratios' distribution.
func spread(rs []float64, target float64) string {
	if len(rs) == 0 {
		return "no rounds"
	}
	won := 0
	for _, r := range rs {
		if r >= target {
			won++
		}
	}
	s := fmt.Sprintf("%d of %d rounds at %.1f× or more", won, len(rs), target)
	lo, hi, p := medianInterval(rs)
	s += fmt.Sprintf(", the median within %.2f–%.2f with %.0f %% confidence", lo, hi, 100*p)
	if lo < target && target <= hi {
		s += ": the rounds do not settle the target"
	}
	return s
}

// medianInterval is the distribution-free confidence interval of the
// median of vs (sorted order statistics k and n+1-k, the sign test's
// interval): the narrowest with a confidence of at least 90 %, or, with
// too few values for that, their whole range. p is its confidence.
func medianInterval(vs []float64) (lo, hi, p float64) {
	n := len(vs)
	if n == 0 {
		return 0, 0, 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	// with X ~ Binomial(n, ½), the order statistics k and n+1-k miss
	// the median with probability 2·P(X < k); pk is P(X = k)
	k, pk := 1, math.Pow(0.5, float64(n))
	miss := pk
	for 2*(k+1) <= n+1 {
		pk *= float64(n-k+1) / float64(k)
		if 1-2*(miss+pk) < 0.9 {
			break
		}
		miss += pk
		k++
	}
	return vs[k-1], vs[n-k], 1 - 2*miss
}

// summarize is the median of each figure over rounds, and their errors
// summed.
func summarize(rs []Result) Result {
	var s Result
	s.RPS = median(rs, func(r Result) float64 { return r.RPS })
	s.P99ms = median(rs, func(r Result) float64 { return r.P99ms })
	s.CPUPerReq = median(rs, func(r Result) float64 { return r.CPUPerReq })
	for _, r := range rs {
		s.Errors += r.Errors
	}
	return s
}

// roundRatios is, round by round, got's req/s and p99 divided by ref's
// of the same round; rounds where ref measured nothing are left out.
func roundRatios(ref, got []Result) (rps, p99 []float64) {
	for i := range min(len(ref), len(got)) {
		if ref[i].RPS > 0 {
			rps = append(rps, got[i].RPS/ref[i].RPS)
		}
		if ref[i].P99ms > 0 {
			p99 = append(p99, got[i].P99ms/ref[i].P99ms)
		}
	}
	return rps, p99
}

// joinRatios writes ratios with two decimals, in round order: the spread
// shows how far the median can be trusted.
func joinRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, " ")
}

func median(rs []Result, f func(Result) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return medianOf(vs)
}

// medianOf is the middle value (the mean of the middle two for an even
// count), 0 for none.
func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	m := len(vs) / 2
	if len(vs)%2 == 0 {
		return (vs[m-1] + vs[m]) / 2
	}
	return vs[m]
}
