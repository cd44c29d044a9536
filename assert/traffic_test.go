package assert

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/scenarios/traffic"
)

// flap is 10 probes at 100 ms: app01 answers, then 3 failures, then app02.
func flap() []traffic.Request {
	return seq(ok(0, "app01"), ok(100, "app01"), ok(200, "app01"), bad(300, "timeout"), bad(400, "connection refused"),
		bad(500, "timeout"), ok(600, "app02"), ok(700, "app02"), ok(800, "app02"), ok(900, "app02"))
}

func TestOutagesAndSummary(t *testing.T) {
	o := Outages(flap())
	require.Len(t, o, 1)
	assert.Equal(t, 3, o[0].Failures)
	assert.Equal(t, 300*time.Millisecond, o[0].Duration())
	assert.Equal(t, "timeout", o[0].FirstErr)

	// An outage at the end lasts until the last failure's end.
	o = Outages(seq(ok(0, "a"), bad(100, "x"), bad(200, "x")))
	require.Len(t, o, 1)
	assert.Equal(t, 200*time.Millisecond, o[0].Duration())

	s := Summarize(flap())
	assert.Equal(t, Summary{Total: 10, OK: 7, Failed: 3, LongestOutage: 300 * time.Millisecond, Outages: 1,
		PerApp: map[string]int{"app01": 3, "app02": 4}, Errors: map[string]int{"timeout": 2, "connection refused": 1}}, s)
	assert.Equal(t, "10 requests, 7 ok, 3 failed, 1 outage(s), longest 300ms (app01 3, app02 4)", s.String())
}

func TestTrafficChecks(t *testing.T) {
	tests := []struct {
		name  string
		reqs  []traffic.Request
		run   func(a *TrafficAssert)
		wants []string // substrings of the failure; none: must pass
	}{
		{"max failures ok", flap(), func(a *TrafficAssert) { a.MaxFailures(3) }, nil},
		{"max failures", flap(), func(a *TrafficAssert) { a.MaxFailures(2) },
			[]string{"expected traffic web: at most 2 failures", "saw 3 failures of 10 requests", "#3 at +300ms: timeout"}},
		{"max failures no request", nil, func(a *TrafficAssert) { a.MaxFailures(2) }, []string{"no request at all"}},
		{"outage ok", flap(), func(a *TrafficAssert) { a.LongestOutageUnder(301 * time.Millisecond) }, nil},
		{"outage", flap(), func(a *TrafficAssert) { a.LongestOutageUnder(300 * time.Millisecond) },
			[]string{"longest outage under 300ms", "an outage of 300ms from +300ms (3 failed requests, first: timeout)"}},
		{"ratio ok", flap(), func(a *TrafficAssert) { a.SuccessRatioAtLeast(0.7) }, nil},
		{"ratio", flap(), func(a *TrafficAssert) { a.SuccessRatioAtLeast(0.8) }, []string{"success ratio at least 0.800", "saw 0.700"}},
		{"spread ok", seq(ok(0, "a"), ok(1, "b"), ok(2, "a"), ok(3, "b")), func(a *TrafficAssert) { a.Spread([]string{"a", "b"}, 0.1) }, nil},
		{"spread", flap(), func(a *TrafficAssert) { a.Spread([]string{"app01", "app02"}, 0.1) },
			[]string{"spread evenly across app01, app02 (within 10%)", "off: app01, app02"}},
		{"spread other app", seq(ok(0, "a"), ok(1, "b"), ok(2, "c")), func(a *TrafficAssert) { a.Spread([]string{"a", "b"}, 0.9) },
			[]string{"off: c"}},
		{"only apps ok", flap(), func(a *TrafficAssert) { a.OnlyApps("app01", "app02") }, nil},
		{"only apps", flap(), func(a *TrafficAssert) { a.OnlyApps("app01") }, []string{"answers only from app01", "saw answers from app02 4"}},
		{"chain reports each", flap(), func(a *TrafficAssert) { a.MaxFailures(0).OnlyApps("app01") },
			[]string{"at most 0 failures", "answers only from app01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var passed bool
			msg := check(func(r TestingT) {
				a := TrafficOf(r, "web", tt.reqs)
				tt.run(a)
				passed = a.OK()
			})
			if len(tt.wants) == 0 {
				requirePass(t, msg)
				assert.True(t, passed)
				return
			}
			assert.False(t, passed)
			for _, w := range tt.wants {
				assert.Contains(t, msg, w)
			}
		})
	}
}

func withCookie(r traffic.Request, sent string, set ...string) traffic.Request {
	r.Cookie, r.SetCookie = sent, set
	return r
}

func TestSticky(t *testing.T) {
	sticky := seq(
		withCookie(ok(0, "app01"), "", "JSESSIONID=app01~AAA; HttpOnly; Secure"),
		withCookie(ok(100, "app01"), "JSESSIONID=app01~AAA", "JSESSIONID=app01~BBB; HttpOnly; Secure"),
		withCookie(ok(200, "app01"), "JSESSIONID=app01~BBB", "JSESSIONID=app01~CCC; HttpOnly; Secure"),
	)
	requirePass(t, check(func(r TestingT) { TrafficOf(r, "web", sticky).StickyByCookie() }))

	broken := append([]traffic.Request(nil), sticky...)
	broken[2].App = "app02"
	msg := check(func(r TestingT) { TrafficOf(r, "web", broken).StickyByCookie() })
	assert.Contains(t, msg, "#2 with JSESSIONID=app01~BBB (set by app01) answered by app02")

	noJar := seq(ok(0, "app01"), ok(100, "app01"))
	assert.Contains(t, check(func(r TestingT) { TrafficOf(r, "web", noJar).StickyByCookie() }), "is the cookie jar on?")

	requirePass(t, check(func(r TestingT) { TrafficOf(r, "web", noJar).StickyByClient() }))
	two := seq(ok(0, "app01"), ok(100, "app02"))
	assert.Contains(t, check(func(r TestingT) { TrafficOf(r, "web", two).StickyByClient() }), "client 10.0.1.10 reached app01 1, app02 1")
}

func TestHeadersAndAddresses(t *testing.T) {
	reqs := seq(
		withCookie(ok(0, "app01"), "", "JSESSIONID=app01~AAA; HttpOnly; Secure"),
		withCookie(ok(100, "app02"), "", "JSESSIONID=XYZ"),
	)
	reqs[0].Header = map[string]string{"Server": "nginx"}
	reqs[1].Header = map[string]string{"Server": "proxyd"}
	msg := check(func(r TestingT) {
		TrafficOf(r, "web", reqs).SetCookieMatches(`^JSESSIONID=app0[12]~\w+; HttpOnly; Secure$`)
	})
	assert.Contains(t, msg, "1 of 2 answers without: #1: Set-Cookie: JSESSIONID=XYZ")
	msg = check(func(r TestingT) { TrafficOf(r, "web", reqs).HeaderMatches("server", "^nginx") })
	assert.Contains(t, msg, "header Server matching `^nginx`")
	assert.Contains(t, msg, "#1: Server: proxyd")
	assert.Contains(t, check(func(r TestingT) { TrafficOf(r, "web", reqs).SetCookieMatches("(") }), "bad regular expression")

	requirePass(t, check(func(r TestingT) { TrafficOf(r, "web", reqs).ClientAddrSeen() }))
	reqs[1].Seen.XRealIP = "10.0.2.11"
	msg = check(func(r TestingT) { TrafficOf(r, "web", reqs).ClientAddrSeen() })
	assert.Contains(t, msg, `#1: client 10.0.1.10 but the app saw peer 10.0.2.11, X-Real-IP "10.0.2.11"`)
}

func TestTrafficWaitsForRecording(t *testing.T) {
	rec := traffic.NewRecording("web", "client", "http", "http://x/")
	go func() {
		time.Sleep(50 * time.Millisecond)
		rec.Add(ok(0, "app01"))
		rec.Finish(time.Now())
	}()
	r := &Recorder{}
	assert.True(t, Traffic(r, rec).MaxFailures(0).OK())
	assert.Empty(t, r.Failures)
}

func TestStatusIs(t *testing.T) {
	reqs := []traffic.Request{{Seq: 1, OK: true, Status: 404}, {Seq: 2, OK: true, Status: 404}}
	rec := &Recorder{}
	require.True(t, TrafficOf(rec, "w", reqs).StatusIs(404).OK())
	rec = &Recorder{}
	reqs[1].Status = 200
	require.False(t, TrafficOf(rec, "w", reqs).StatusIs(404).OK())
	require.Contains(t, fmt.Sprint(rec.Failures), "status 200")
}
