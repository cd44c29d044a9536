// Package wrkbench drives Debian's wrk for the benchmarks that put one of
// halab's daemons next to the Debian daemon it replaces: it builds the
// command line, reads wrk's report and runs the comparison rounds.
package wrkbench

import (
	"regexp"
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

// Args is wrk's command line for conns connections over two threads for d,
// with extra request headers, against url.
func Args(conns int, d time.Duration, headers []string, url string) []string {
	args := []string{"wrk", "-t2", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency", "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	return append(args, url)
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

// Compare runs every case against both implementations in two rounds,
// each going first once, keeps each one's best round (the machine is
// shared: the best round is the least disturbed) and reports them as
// sub-benchmarks CASE/IMPL with req/s, p99-ms, errors and, when measured,
// cpu-us/req.
func Compare(b *testing.B, impls [2]string, cases []string, run func(cs, impl string) Result) {
	const rounds = 2
	best := map[string]Result{}
	b.ResetTimer()
	for _, cs := range cases {
		for round := 0; round < rounds; round++ {
			order := []string{impls[0], impls[1]}
			if round%2 == 1 {
				order = []string{impls[1], impls[0]}
			}
			for _, impl := range order {
				r := run(cs, impl)
				if k := cs + "/" + impl; r.RPS > best[k].RPS {
					best[k] = r
				}
			}
		}
	}
	b.StopTimer()
	for _, cs := range cases {
		for _, impl := range impls {
			r := best[cs+"/"+impl]
			b.Run(cs+"/"+impl, func(b *testing.B) {
				b.ReportMetric(r.RPS, "req/s")
				b.ReportMetric(r.P99ms, "p99-ms")
				b.ReportMetric(r.Errors, "errors")
				if r.CPUPerReq > 0 {
					b.ReportMetric(r.CPUPerReq, "cpu-us/req")
				}
			})
		}
	}
}
