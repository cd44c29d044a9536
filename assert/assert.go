// Package assert checks what a lab run did, testify style: each function
// takes a TestingT (a *testing.T, or a recorder in the scenario runner),
// reports a failure saying what was expected and what was seen instead,
// and returns whether the check passed.
//
//	assert.VIPHolder(t, l, "10.0.1.100", "nginx02", 5*time.Second)
//	assert.OneHolder(t, l, "10.0.1.100", 0)
//	assert.Traffic(t, rec).MaxFailures(3).LongestOutageUnder(2 * time.Second).StickyByCookie()
//	assert.LogLine(t, logPath, `Entering MASTER STATE`, 5*time.Second)
//	assert.VRRPState(t, l, "nginx01", "", "BACKUP", 5*time.Second)
//	assert.TraceSequence(t, group, 5*time.Second, capture.VRRPAdvert().Priority(90), capture.GratuitousARP(vip))
//
// The package reads a lab through small interfaces (*lab.Lab satisfies
// StatusSource, *capture.Group satisfies PacketSource), so every check also
// runs against recorded data.
package assert

import (
	"fmt"
	"time"
)

// TestingT is the part of *testing.T the assertions use.
type TestingT interface {
	Errorf(format string, args ...any)
}

type tHelper interface{ Helper() }

func helper(t TestingT) {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
}

// failf reports "expected ...; saw ..." on t and returns false.
func failf(t TestingT, expected, seen string) bool {
	helper(t)
	t.Errorf("expected %s\nsaw %s", expected, seen)
	return false
}

// pollInterval is how often conditions with a time bound are checked.
const pollInterval = 50 * time.Millisecond

// eventually calls check until it reports true or within has passed (at
// least once, even when within is 0), and returns its last result and
// description of what it saw.
func eventually(within time.Duration, check func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(within)
	for {
		ok, seen := check()
		if ok || !time.Now().Before(deadline) {
			return ok, seen
		}
		time.Sleep(min(pollInterval, time.Until(deadline)))
	}
}

// withinText renders a time bound for messages.
func withinText(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	return fmt.Sprintf("within %s", d)
}

// Recorder is a TestingT that collects failure messages instead of failing a
// test: the scenario runner checks expectations with it.
type Recorder struct {
	Failures []string
}

// Errorf records a failure.
func (r *Recorder) Errorf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// Failed reports whether a failure was recorded.
func (r *Recorder) Failed() bool { return len(r.Failures) > 0 }
