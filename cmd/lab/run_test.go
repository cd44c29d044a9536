package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scenarioFile writes a scenario on the simple topology.
func scenarioFile(t *testing.T, body string) string {
	t.Helper()
	topo, err := filepath.Abs(filepath.Join("..", "..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: cli-run\ntopology: "+topo+"\n"+body), 0o644))
	return path
}

func TestCLIRunInvalidScenarioCreatesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	path := scenarioFile(t, "steps:\n  - crash: nginx09\n")
	before, _ := os.ReadDir("/run/halab")
	out, err := labCmd(t, "run", path)
	require.Error(t, err)
	assert.Contains(t, out, path+`:4: crash: unknown node "nginx09"`)
	after, _ := os.ReadDir("/run/halab")
	assert.Equal(t, len(before), len(after), "no lab created")
	out, err = labCmd(t, "run")
	require.Error(t, err)
	assert.Contains(t, out, "usage: lab run")
	out, err = labCmd(t, "run", path, "--impl", "rust")
	require.Error(t, err)
	assert.Contains(t, out, `--impl "rust"`)
}

// A scenario that must fail exits non-zero, and the report says why.
func TestCLIRunFailingScenarioReports(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	path := scenarioFile(t, `na: {reference: "the test checks the n/a cell"}
steps:
  - traffic: {name: web, from: nginx01, url: "http://10.0.2.22/", count: 5, rate: 50}
  - expect: {traffic: web, apps: [app01]}
`)
	report := filepath.Join(t.TempDir(), "report")
	junit := filepath.Join(report, "junit.xml")
	out, err := labCmd(t, "run", path, "--report", report, "--junit", junit, "--impl", "both")
	require.Error(t, err, out)
	assert.Contains(t, out, "2/2 expect traffic web: only app01: fail")
	assert.Contains(t, out, "1 of 2 runs failed")
	assert.Contains(t, out, "n/a")
	html, err := os.ReadFile(filepath.Join(report, "index.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "saw answers from app02 5")
	md, err := os.ReadFile(filepath.Join(report, "summary.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| cli-run | FAIL | n/a: the test checks the n/a cell |")
	x, err := os.ReadFile(junit)
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(x), `<failure message="failed: step 2 (line 6)"`), string(x))
	_, err = os.Stat(filepath.Join(report, "cli-run-go", "logs", "app02", "labapp.log"))
	assert.NoError(t, err)
}
