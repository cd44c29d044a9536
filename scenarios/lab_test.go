package scenarios

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
)

// labBin builds labapp into a directory the nodes see (not /tmp).
func labBin(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root")
	}
	return gobuild.ForTest(t, "../cmd/labapp")
}

func runFile(t *testing.T, bin, path string) (*Result, string) {
	t.Helper()
	s, err := Load(path)
	require.NoError(t, err)
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := Run(ctx, s, ImplGo, Options{BinDir: bin, Progress: &progress, LabPrefix: "sct", ArtifactDir: t.TempDir()})
	t.Log(progress.String())
	_, err = os.Stat("/run/halab/" + res.Lab)
	assert.True(t, os.IsNotExist(err), "lab %s torn down", res.Lab)
	return res, progress.String()
}

func writeScenario(t *testing.T, text string) string {
	path := filepath.Join(t.TempDir(), "s.yaml")
	abs, err := filepath.Abs("../topologies/simple.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(text, "SIMPLE", abs)), 0o644))
	return path
}

func TestLabExamplePasses(t *testing.T) {
	bin := labBin(t)
	res, progress := runFile(t, bin, "examples/app-link-flap.yaml")
	require.Equal(t, StatusPass, res.Status, progress)
	assert.Contains(t, progress, "link down app01:eth0: pass")
	require.Len(t, res.Timeline.Traffic, 1)
	reqs := res.Timeline.Traffic[0].Requests()
	assert.Greater(t, len(reqs), 40)
	failed := 0
	for _, q := range reqs {
		if !q.OK {
			failed++
		}
	}
	assert.Greater(t, failed, 1, "the link was down for a second")
	assert.Contains(t, res.Logs, "logs/app01/labapp.log")
}

// A deliberately broken scenario must fail, and say why.
func TestLabBrokenScenarioFails(t *testing.T) {
	bin := labBin(t)
	path := writeScenario(t, `name: broken
topology: SIMPLE
steps:
  - traffic: {name: web, from: nginx01, url: "http://10.0.2.21/", rate: 20, count: 10}
  - expect: {traffic: web, apps: [app02], max_failures: 0}
  - expect: {vip: 10.0.2.100, holder: nginx01, within: 300ms}
  - wait: {vip: 10.0.2.100, one_holder: true, within: 200ms}
  - pause: 1s
`)
	res, progress := runFile(t, bin, path)
	require.Equal(t, StatusFail, res.Status)
	require.Len(t, res.Steps, 5)
	assert.Equal(t, StatusPass, res.Steps[0].Status)
	assert.Equal(t, StatusFail, res.Steps[1].Status)
	assert.Contains(t, res.Steps[1].Message, "expected traffic web: answers only from app02\nsaw answers from app01 10")
	assert.Contains(t, res.Steps[2].Message, "expected VIP 10.0.2.100 held by nginx01 alone within 300ms\nsaw no node holding it")
	assert.Equal(t, StatusFail, res.Steps[3].Status)
	assert.Equal(t, StatusSkipped, res.Steps[4].Status, "a failed wait stops the run")
	assert.Contains(t, res.Steps[4].Message, "step 4 (line 7) failed")
	assert.Equal(t, "failed: step 2 (line 5), step 3 (line 6), step 4 (line 7)", res.Reason)
	assert.Contains(t, progress, "--- FAIL broken [go]")
}

// Faults on the simple topology, observed with TCP connect probes.
func TestLabFaults(t *testing.T) {
	bin := labBin(t)
	path := writeScenario(t, `name: faults
topology: SIMPLE
steps:
  - traffic: {name: base, from: nginx01, connect: "10.0.2.21:80", count: 3, rate: 50}
  - wait: {traffic: base}
  - expect: {traffic: base, max_failures: 0}
  - partition: {groups: [[nginx01], [app01]]}
  - traffic: {name: cut, from: nginx01, connect: "10.0.2.21:80", count: 3, rate: 20, timeout: 200ms}
  - traffic: {name: other, from: nginx02, connect: "10.0.2.21:80", count: 3, rate: 20}
  - expect: {traffic: cut, min_success_ratio: 0.0, max_failures: 3}
  - expect: {traffic: other, max_failures: 0}
  - heal:
  - loss: {node: app01, iface: eth0, percent: 100}
  - traffic: {name: lossy, from: nginx01, connect: "10.0.2.21:80", count: 2, rate: 20, timeout: 200ms}
  - wait: {traffic: lossy}
  - loss: {node: app01, iface: eth0, percent: 0}
  - bandwidth: {node: app01, iface: eth0, rate: 1mbit}
  - bandwidth: {node: app01, iface: eth0, rate: "off"}
  - crash: app01
  - traffic: {name: crashed, from: nginx01, connect: "10.0.2.21:80", count: 2, rate: 20, timeout: 200ms}
  - wait: {traffic: crashed}
  - recover: app01
  - pause: 500ms
  - traffic: {name: back, from: nginx01, url: "http://10.0.2.21/", count: 3, rate: 20}
  - signal: {node: app02, process: labapp, signal: KILL}
  - traffic: {name: nolabapp, from: nginx01, connect: "10.0.2.22:80", count: 2, rate: 20}
  - expect: {traffic: back, max_failures: 0, apps: [app01]}
  - expect: {traffic: cut, max_failures: 0}
  - expect: {traffic: lossy, max_failures: 0}
  - expect: {traffic: crashed, max_failures: 0}
  - expect: {traffic: nolabapp, max_failures: 0}
`)
	res, progress := runFile(t, bin, path)
	require.Equal(t, StatusFail, res.Status, progress)
	for i, s := range res.Steps[:23] {
		assert.Equal(t, StatusPass, s.Status, "step %d %s: %s", i+1, s.Desc, s.Message)
	}
	// The last four expectations are there to fail: each fault was real.
	assert.Contains(t, res.Steps[24].Message, "saw 3 failures of 3 requests")
	assert.Contains(t, res.Steps[25].Message, "saw 2 failures of 2 requests")
	assert.Contains(t, res.Steps[26].Message, "saw 2 failures of 2 requests")
	assert.Contains(t, res.Steps[27].Message, "connect: connection refused")
}
