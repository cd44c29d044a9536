package assert

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/internal/labapp"
	"halab/scenarios/traffic"
)

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// ok and bad build recorded requests at ms milliseconds after t0.
func ok(ms int, app string) traffic.Request {
	return traffic.Request{Start: t0.Add(time.Duration(ms) * time.Millisecond), Latency: 2 * time.Millisecond,
		OK: true, Status: 200, App: app, Local: "10.0.1.10:40000",
		Seen: &labapp.Seen{App: app, PeerIP: "10.0.2.11", XRealIP: "10.0.1.10"}}
}

func bad(ms int, err string) traffic.Request {
	return traffic.Request{Start: t0.Add(time.Duration(ms) * time.Millisecond), Latency: 100 * time.Millisecond, Err: err}
}

func seq(reqs ...traffic.Request) []traffic.Request {
	for i := range reqs {
		reqs[i].Seq = i
	}
	return reqs
}

// check runs fn with a Recorder and returns its failures joined.
func check(fn func(t TestingT)) string {
	r := &Recorder{}
	fn(r)
	return strings.Join(r.Failures, "\n")
}

func requirePass(t *testing.T, msg string) {
	t.Helper()
	require.Empty(t, msg)
}
