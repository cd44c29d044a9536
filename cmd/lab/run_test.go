package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/syncbuf"
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

// `lab run --ui` serves the run's lab while its steps run: the state API
// answers, the scenario's faults reach the page, and the page's actions go
// through the run's fault engine (the page kills app01's labapp during a
// pause, and the scenario's last expectation sees it).
func TestCLIRunUI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	path := scenarioFile(t, `steps:
  - link_down: {node: app02, iface: eth0}
  - pause: 6s
  - link_up: {node: app02, iface: eth0}
  - traffic: {name: after, from: nginx01, connect: "10.0.2.21:80", count: 3, rate: 20, timeout: 200ms}
  - wait: {traffic: after}
  - expect: {traffic: after, max_failures: 0}
`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "lab"), "run", path, "--ui", "--listen", addr)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// The state API answers once the lab is up.
	var st struct {
		Lab   string `json:"lab"`
		Nodes []struct {
			Name       string `json:"name"`
			Interfaces []struct {
				Name string `json:"name"`
				Up   bool   `json:"up"`
			} `json:"interfaces"`
		} `json:"nodes"`
	}
	app02Down := func() bool {
		resp, err := http.Get("http://" + addr + "/api/state")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
			return false
		}
		for _, n := range st.Nodes {
			if n.Name == "app02" && len(n.Interfaces) > 0 {
				return !n.Interfaces[0].Up
			}
		}
		return false
	}
	require.Eventually(t, app02Down, 20*time.Second, 50*time.Millisecond, "the page shows the scenario's link down\n%s", out.String())
	assert.True(t, strings.HasPrefix(st.Lab, "sc"), st.Lab)
	assert.Len(t, st.Nodes, 5)
	token := regexp.MustCompile(`token for actions: ([0-9a-f]+)`).FindStringSubmatch(out.String())
	require.Len(t, token, 2, out.String())
	assert.Contains(t, out.String(), "http://"+addr+"/#token="+token[1])

	// A page action through the run's engine.
	req, err := http.NewRequest("POST", "http://"+addr+"/api/action", strings.NewReader(`{"action":"kill","node":"app01","daemon":"labapp"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token[1])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The timeline has the scenario's fault and the page's.
	resp, err = http.Get("http://" + addr + "/api/timeline")
	require.NoError(t, err)
	tl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(tl), "link down app02:eth0")
	assert.Contains(t, string(tl), "kill labapp on app01")
	assert.Contains(t, string(tl), "<svg")

	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatalf("lab run did not finish\n%s", out.String())
	}
	require.Error(t, err, "the page's kill fails the last expectation\n%s", out.String())
	assert.Contains(t, out.String(), "connection refused")
	_, err = http.Get("http://" + addr + "/api/state")
	assert.Error(t, err, "the page stops with the run")
}
