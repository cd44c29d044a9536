package assert

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"halab/scenarios/traffic"
)

// Outage is a run of consecutive failed probes.
type Outage struct {
	Start, End time.Time // first failed probe's start; next success's start (or last failure's end)
	Failures   int
	FirstErr   string
}

// Duration is how long the outage lasted as the client saw it.
func (o Outage) Duration() time.Duration { return o.End.Sub(o.Start) }

// Outages finds the runs of consecutive failed probes, in time order.
func Outages(reqs []traffic.Request) []Outage {
	var out []Outage
	var cur *Outage
	for _, r := range reqs {
		if r.OK {
			if cur != nil {
				cur.End = r.Start
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur == nil {
			cur = &Outage{Start: r.Start, FirstErr: r.Err}
		}
		cur.Failures++
		cur.End = r.Start.Add(r.Latency)
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// Summary is the outcome of a recording in numbers.
type Summary struct {
	Total, OK, Failed int
	LongestOutage     time.Duration
	Outages           int
	// PerApp counts successful answers per app ("" when unknown).
	PerApp map[string]int
	// Errors counts failures per error text.
	Errors map[string]int
}

// Summarize counts a recording's outcomes.
func Summarize(reqs []traffic.Request) Summary {
	s := Summary{Total: len(reqs), PerApp: map[string]int{}, Errors: map[string]int{}}
	for _, r := range reqs {
		if r.OK {
			s.OK++
			s.PerApp[r.App]++
		} else {
			s.Failed++
			s.Errors[r.Err]++
		}
	}
	for _, o := range Outages(reqs) {
		s.Outages++
		s.LongestOutage = max(s.LongestOutage, o.Duration())
	}
	return s
}

// String renders the summary on one line.
func (s Summary) String() string {
	apps := make([]string, 0, len(s.PerApp))
	for a, n := range s.PerApp {
		if a == "" {
			a = "?"
		}
		apps = append(apps, fmt.Sprintf("%s %d", a, n))
	}
	sort.Strings(apps)
	txt := fmt.Sprintf("%d requests, %d ok, %d failed", s.Total, s.OK, s.Failed)
	if s.Outages > 0 {
		txt += fmt.Sprintf(", %d outage(s), longest %s", s.Outages, s.LongestOutage.Round(time.Millisecond))
	}
	if len(apps) > 0 {
		txt += " (" + strings.Join(apps, ", ") + ")"
	}
	return txt
}

// TrafficAssert chains checks on one recording; each failed check reports
// on t. Checks wait for the traffic to end first.
type TrafficAssert struct {
	t    TestingT
	name string
	reqs []traffic.Request
	ok   bool
}

// Traffic starts checks on a recording. It waits for the traffic to end.
func Traffic(t TestingT, rec *traffic.Recording) *TrafficAssert {
	<-rec.Done()
	return TrafficOf(t, rec.Name, rec.Requests())
}

// TrafficOf starts checks on recorded requests.
func TrafficOf(t TestingT, name string, reqs []traffic.Request) *TrafficAssert {
	return &TrafficAssert{t: t, name: name, reqs: reqs, ok: true}
}

// OK reports whether every check so far passed.
func (a *TrafficAssert) OK() bool { return a.ok }

func (a *TrafficAssert) fail(expected, seen string) *TrafficAssert {
	helper(a.t)
	a.ok = false
	failf(a.t, fmt.Sprintf("traffic %s: %s", a.name, expected), seen)
	return a
}

func (a *TrafficAssert) summary() Summary { return Summarize(a.reqs) }

// failureList describes up to five failures with their times.
func (a *TrafficAssert) failureList() string {
	var parts []string
	t0 := time.Time{}
	if len(a.reqs) > 0 {
		t0 = a.reqs[0].Start
	}
	for _, r := range a.reqs {
		if !r.OK {
			parts = append(parts, fmt.Sprintf("#%d at +%s: %s", r.Seq, r.Start.Sub(t0).Round(time.Millisecond), r.Err))
			if len(parts) == 5 {
				parts = append(parts, "...")
				break
			}
		}
	}
	return strings.Join(parts, "; ")
}

// MaxFailures checks that at most n probes failed.
func (a *TrafficAssert) MaxFailures(n int) *TrafficAssert {
	helper(a.t)
	if len(a.reqs) == 0 {
		return a.fail(fmt.Sprintf("at most %d failures", n), "no request at all")
	}
	if s := a.summary(); s.Failed > n {
		return a.fail(fmt.Sprintf("at most %d failures", n), fmt.Sprintf("%d failures of %d requests: %s", s.Failed, s.Total, a.failureList()))
	}
	return a
}

// LongestOutageUnder checks that no run of failed probes lasted d or more.
func (a *TrafficAssert) LongestOutageUnder(d time.Duration) *TrafficAssert {
	helper(a.t)
	var worst Outage
	for _, o := range Outages(a.reqs) {
		if o.Duration() > worst.Duration() {
			worst = o
		}
	}
	if worst.Duration() >= d {
		t0 := a.reqs[0].Start
		return a.fail(fmt.Sprintf("longest outage under %s", d),
			fmt.Sprintf("an outage of %s from +%s (%d failed requests, first: %s)", worst.Duration().Round(time.Millisecond),
				worst.Start.Sub(t0).Round(time.Millisecond), worst.Failures, worst.FirstErr))
	}
	return a
}

// SuccessRatioAtLeast checks the share of successful probes.
func (a *TrafficAssert) SuccessRatioAtLeast(r float64) *TrafficAssert {
	helper(a.t)
	s := a.summary()
	if s.Total == 0 {
		return a.fail(fmt.Sprintf("success ratio at least %.3f", r), "no request at all")
	}
	if got := float64(s.OK) / float64(s.Total); got < r {
		return a.fail(fmt.Sprintf("success ratio at least %.3f", r), fmt.Sprintf("%.3f (%s)", got, s))
	}
	return a
}

// Spread checks that successful answers are spread evenly across apps: each
// app's count is within tolerance (a fraction, 0.2 = 20%) of an equal share,
// and no other app answered.
func (a *TrafficAssert) Spread(apps []string, tolerance float64) *TrafficAssert {
	helper(a.t)
	s := a.summary()
	expected := fmt.Sprintf("answers spread evenly across %s (within %.0f%%)", strings.Join(apps, ", "), tolerance*100)
	if s.OK == 0 {
		return a.fail(expected, "no successful request")
	}
	share := float64(s.OK) / float64(len(apps))
	var bad []string
	known := map[string]bool{}
	for _, app := range apps {
		known[app] = true
		if math.Abs(float64(s.PerApp[app])-share) > tolerance*share {
			bad = append(bad, app)
		}
	}
	for app := range s.PerApp {
		if !known[app] {
			bad = append(bad, app)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return a.fail(expected, fmt.Sprintf("%s; off: %s", s, strings.Join(bad, ", ")))
	}
	return a
}

// OnlyApps checks that every successful answer came from one of apps.
func (a *TrafficAssert) OnlyApps(apps ...string) *TrafficAssert {
	helper(a.t)
	allowed := map[string]bool{}
	for _, x := range apps {
		allowed[x] = true
	}
	s := a.summary()
	var other []string
	for app, n := range s.PerApp {
		if !allowed[app] {
			other = append(other, fmt.Sprintf("%s %d", orUnknown(app), n))
		}
	}
	if len(other) > 0 {
		sort.Strings(other)
		return a.fail("answers only from "+strings.Join(apps, ", "), "answers from "+strings.Join(other, ", ")+" ("+s.String()+")")
	}
	if s.OK == 0 {
		return a.fail("answers only from "+strings.Join(apps, ", "), "no successful request")
	}
	return a
}

func orUnknown(app string) string {
	if app == "" {
		return "an unknown app"
	}
	return app
}

// StickyByCookie checks cookie persistence: a request carrying a cookie the
// client received with an answer from app X was answered by X.
func (a *TrafficAssert) StickyByCookie() *TrafficAssert {
	helper(a.t)
	setBy := map[string]string{} // "name=value" -> app that set it
	var bad []string
	carried := 0
	for _, r := range a.reqs {
		if r.OK && r.Cookie != "" {
			for _, c := range strings.Split(r.Cookie, "; ") {
				if app, ok := setBy[c]; ok {
					carried++
					if app != r.App {
						bad = append(bad, fmt.Sprintf("#%d with %s (set by %s) answered by %s", r.Seq, c, app, orUnknown(r.App)))
					}
					break
				}
			}
		}
		if r.OK {
			for _, sc := range r.SetCookie {
				if c, err := http.ParseSetCookie(sc); err == nil {
					setBy[c.Name+"="+c.Value] = r.App
				}
			}
		}
	}
	switch {
	case len(bad) > 0:
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("... (%d in all)", len(bad)))
		}
		return a.fail("requests carrying a cookie answered by the app that set it", strings.Join(bad, "; "))
	case carried == 0:
		return a.fail("requests carrying a cookie answered by the app that set it",
			"no request carried a cookie set by an earlier answer (is the cookie jar on?)")
	}
	return a
}

// StickyByClient checks that all answers to one client address came from
// one app (source-address persistence such as ip_hash).
func (a *TrafficAssert) StickyByClient() *TrafficAssert {
	helper(a.t)
	apps := map[string]map[string]int{}
	for _, r := range a.reqs {
		if !r.OK {
			continue
		}
		c := r.LocalIP()
		if apps[c] == nil {
			apps[c] = map[string]int{}
		}
		apps[c][r.App]++
	}
	var bad []string
	for c, m := range apps {
		if len(m) > 1 {
			var parts []string
			for app, n := range m {
				parts = append(parts, fmt.Sprintf("%s %d", orUnknown(app), n))
			}
			sort.Strings(parts)
			bad = append(bad, fmt.Sprintf("client %s reached %s", c, strings.Join(parts, ", ")))
		}
	}
	if len(apps) == 0 {
		return a.fail("each client's requests answered by one app", "no successful request")
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return a.fail("each client's requests answered by one app", strings.Join(bad, "; "))
	}
	return a
}

// SetCookieMatches checks that every successful answer carried a
// Set-Cookie header matching the regular expression, as the client saw it.
func (a *TrafficAssert) SetCookieMatches(pattern string) *TrafficAssert {
	helper(a.t)
	re, err := regexp.Compile(pattern)
	if err != nil {
		return a.fail("Set-Cookie matching "+pattern, "a bad regular expression: "+err.Error())
	}
	return a.eachOK("a Set-Cookie header matching `"+pattern+"`", func(r traffic.Request) (bool, string) {
		for _, sc := range r.SetCookie {
			if re.MatchString(sc) {
				return true, ""
			}
		}
		if len(r.SetCookie) == 0 {
			return false, "no Set-Cookie"
		}
		return false, "Set-Cookie: " + strings.Join(r.SetCookie, " | ")
	})
}

// HeaderMatches checks that every successful answer carried header name
// with a value matching the regular expression.
func (a *TrafficAssert) HeaderMatches(name, pattern string) *TrafficAssert {
	helper(a.t)
	re, err := regexp.Compile(pattern)
	if err != nil {
		return a.fail(name+" matching "+pattern, "a bad regular expression: "+err.Error())
	}
	canon := http.CanonicalHeaderKey(name)
	return a.eachOK(fmt.Sprintf("header %s matching `%s`", canon, pattern), func(r traffic.Request) (bool, string) {
		v, ok := r.Header[canon]
		if !ok {
			return false, "no " + canon + " header"
		}
		return re.MatchString(v), canon + ": " + v
	})
}

// StatusIs checks that every answer carried this HTTP status.
func (a *TrafficAssert) StatusIs(code int) *TrafficAssert {
	helper(a.t)
	return a.eachOK(fmt.Sprintf("HTTP status %d", code), func(r traffic.Request) (bool, string) {
		return r.Status == code, fmt.Sprintf("status %d", r.Status)
	})
}

// ClientAddrSeen checks that the app saw the client's own address: as the
// peer, in X-Real-IP or first in X-Forwarded-For.
func (a *TrafficAssert) ClientAddrSeen() *TrafficAssert {
	helper(a.t)
	return a.eachOK("the app to see the client's own address", func(r traffic.Request) (bool, string) {
		if r.Seen == nil {
			return false, "an answer that is not labapp's JSON"
		}
		ip := r.LocalIP()
		xff := strings.TrimSpace(strings.Split(r.Seen.XForwardedFor, ",")[0])
		if r.Seen.PeerIP == ip || r.Seen.XRealIP == ip || xff == ip {
			return true, ""
		}
		return false, fmt.Sprintf("client %s but the app saw peer %s, X-Real-IP %q, X-Forwarded-For %q",
			ip, r.Seen.PeerIP, r.Seen.XRealIP, r.Seen.XForwardedFor)
	})
}

// eachOK applies check to every successful request and reports the first
// few that fail it.
func (a *TrafficAssert) eachOK(expected string, check func(traffic.Request) (bool, string)) *TrafficAssert {
	helper(a.t)
	var bad []string
	n, total := 0, 0
	for _, r := range a.reqs {
		if !r.OK {
			continue
		}
		total++
		if ok, seen := check(r); !ok {
			n++
			if len(bad) < 3 {
				bad = append(bad, fmt.Sprintf("#%d: %s", r.Seq, seen))
			}
		}
	}
	if total == 0 {
		return a.fail(expected, "no successful request")
	}
	if n > 0 {
		return a.fail(expected+" in every answer", fmt.Sprintf("%d of %d answers without: %s", n, total, strings.Join(bad, "; ")))
	}
	return a
}
