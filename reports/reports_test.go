package reports

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/scenarios"
	"halab/scenarios/traffic"
)

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// recorded returns three runs as the runner reports them: a failover that
// failed on go, the same passing on reference, and an n/a run.
func recorded(dir string) []*scenarios.Result {
	rec := traffic.NewRecording("web", "client", "http", "http://10.0.1.100/")
	rec.Add(traffic.Request{Start: at(100), Latency: 3 * time.Millisecond, OK: true, Status: 200, App: "app01"})
	rec.Add(traffic.Request{Start: at(600), Latency: time.Second, Err: "timeout"})
	rec.Add(traffic.Request{Start: at(1700), Latency: 3 * time.Millisecond, OK: true, Status: 200, App: "app02"})
	rec.Finish(at(2000))
	tl := scenarios.Timeline{Start: t0, End: at(3000), Nodes: []string{"nginx01", "nginx02"}, VIPs: []string{"10.0.1.100"},
		Samples: []scenarios.Sample{
			{Time: at(0), VRRP: map[string]string{"nginx01": "MASTER", "nginx02": "BACKUP"}, Holders: map[string][]string{"10.0.1.100": {"nginx01"}}},
			{Time: at(500), VRRP: map[string]string{"nginx01": "DOWN", "nginx02": "BACKUP"}, Holders: map[string][]string{"10.0.1.100": nil}},
			{Time: at(1500), VRRP: map[string]string{"nginx01": "DOWN", "nginx02": "MASTER"}, Holders: map[string][]string{"10.0.1.100": {"nginx02"}}},
			{Time: at(2500), VRRP: map[string]string{"nginx01": "MASTER", "nginx02": "MASTER"}, Holders: map[string][]string{"10.0.1.100": {"nginx01", "nginx02"}}},
		},
		Traffic: []*traffic.Recording{rec},
		Events:  []scenarios.Event{{Time: at(500), Kind: "fault", Text: "signal KILL keepalived on nginx01"}, {Time: at(2600), Kind: "fail", Text: "step 4 failed"}},
	}
	failed := &scenarios.Result{Scenario: "failover", File: "s/failover.yaml", Impl: "go", Lab: "sc1", Status: scenarios.StatusFail,
		Reason: "failed: step 4 (line 12)", Start: t0, Duration: 3 * time.Second, Timeline: tl,
		ArtifactDir: filepath.Join(dir, "failover-go"), Logs: []string{"logs/nginx01/keepalived.log"}, Traces: []string{"trace.txt"},
		Steps: []scenarios.StepResult{
			{Index: 1, Line: 9, Desc: "traffic web", Start: at(0), Status: scenarios.StatusPass},
			{Index: 4, Line: 12, Desc: "expect VIP 10.0.1.100 held by exactly one node", Start: at(2600), Status: scenarios.StatusFail,
				Message: "expected VIP 10.0.1.100 held by exactly one node now\nsaw held by nginx01 and nginx02 (split brain)"},
		}}
	passed := &scenarios.Result{Scenario: "failover", File: "s/failover.yaml", Impl: "reference", Status: scenarios.StatusPass, Start: t0, Duration: time.Second}
	na := &scenarios.Result{Scenario: "l4 <director>", File: "s/l4.yaml", Impl: "reference", Status: scenarios.StatusNA,
		Reason: "needs IPVS, which this kernel lacks"}
	return []*scenarios.Result{failed, passed, na}
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJUnit(&b, recorded("")))
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc), b.String())
	assert.Equal(t, 3, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
	assert.Equal(t, 1, doc.Skipped)
	cases := doc.Suites[0].Cases
	require.Len(t, cases, 3)
	assert.Equal(t, "failover [go]", cases[0].Name)
	require.NotNil(t, cases[0].Failure)
	assert.Equal(t, "failed: step 4 (line 12)", cases[0].Failure.Message)
	assert.Contains(t, cases[0].Failure.Text, "step 4 (line 12) expect VIP 10.0.1.100 held by exactly one node: fail\n  expected VIP")
	assert.Contains(t, cases[0].Failure.Text, "saw held by nginx01 and nginx02 (split brain)")
	assert.Nil(t, cases[1].Failure)
	require.NotNil(t, cases[2].Skipped)
	assert.Equal(t, "n/a: needs IPVS, which this kernel lacks", cases[2].Skipped.Message)
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, recorded("/r"), "/r"))
	md := b.String()
	assert.Contains(t, md, "3 runs: 1 pass, 1 fail, 0 error, 1 n/a.")
	assert.Contains(t, md, "| scenario | go | reference |\n|---|---|---|\n| failover | FAIL | pass |\n| l4 <director> | - | n/a: needs IPVS, which this kernel lacks |\n")
	assert.Contains(t, md, "## failover [go]: FAIL")
	assert.Contains(t, md, "saw held by nginx01 and nginx02 (split brain)")
	assert.Contains(t, md, "Logs and traces: failover-go/logs/nginx01/keepalived.log, failover-go/trace.txt")
}

func TestHTMLSelfContained(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Write(dir, recorded(dir)))
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	page := string(b)
	for _, external := range []string{"<link", "src=", "href=\"http", "@import", "url("} {
		assert.NotContains(t, page, external)
	}
	assert.Contains(t, page, "<svg class=\"timeline\"")
	assert.Contains(t, page, "nginx01 VRRP")
	assert.Contains(t, page, "nginx01 + nginx02 (split brain)")
	assert.Contains(t, page, "web 2/3 ok")
	assert.Contains(t, page, "signal KILL keepalived on nginx01")
	assert.Contains(t, page, "saw held by nginx01 and nginx02 (split brain)")
	assert.Contains(t, page, `href="failover-go/logs/nginx01/keepalived.log"`)
	assert.Contains(t, page, "l4 &lt;director&gt;")
	assert.Contains(t, page, "3 requests, 2 ok, 1 failed, 1 outage(s), longest 1.1s (app01 1, app02 1)")
	for _, f := range []string{"summary.md", "results.json"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err)
	}
	assert.True(t, strings.Count(page, "<section") == 3)
}

func TestTimelineEmpty(t *testing.T) {
	svg := string(TimelineSVG(scenarios.Timeline{}))
	assert.True(t, strings.HasPrefix(svg, "<svg"))
	assert.True(t, strings.HasSuffix(svg, "</svg>"))
}
