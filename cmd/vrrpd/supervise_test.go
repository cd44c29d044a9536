package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/syncbuf"
)

// The supervisor tests run this test binary as a fake VRRP child (and, for
// the parent-death test, as a fake parent); see TestMain. The fake child
// records what happens to it in an events file, one line each.
const (
	testRoleEnv = "VRRPD_TEST_ROLE"
	testDirEnv  = "VRRPD_TEST_DIR"
	testExitEnv = "VRRPD_TEST_CHILD_EXIT" // the fake child exits at once with this code
)

// fakeChild stands in for the VRRP child: it writes its pid file, logs
// "start PID", "hup PID" and "term PID", and exits 0 on SIGTERM/SIGINT.
func fakeChild() int {
	dir := os.Getenv(testDirEnv)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	event := func(what string) {
		f, err := os.OpenFile(filepath.Join(dir, "events"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %d\n", what, os.Getpid())
			f.Close()
		}
	}
	if code := os.Getenv(testExitEnv); code != "" {
		n, _ := strconv.Atoi(code)
		return n
	}
	_ = writePidFile(filepath.Join(dir, "child.pid"))
	event("start")
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			event("hup")
			continue
		}
		event("term")
		return 0
	}
	return 0
}

// fakeParent supervises a fake child, for the parent-death test.
func fakeParent() int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	return newSupervisor(fakeSpec(os.Getenv(testDirEnv)), slog.Default()).run(sigs)
}

func fakeSpec(dir string, extraEnv ...string) childSpec {
	self, _ := os.Executable()
	env := append(os.Environ(), testRoleEnv+"=fake-child", testDirEnv+"="+dir)
	return childSpec{Path: self, Args: []string{self}, Env: append(env, extraEnv...), PidFile: filepath.Join(dir, "child.pid")}
}

// events returns the fake children's events so far.
func events(dir string) []string {
	data, _ := os.ReadFile(filepath.Join(dir, "events"))
	return strings.Fields(strings.ReplaceAll(string(data), " ", "="))
}

// waitEvent waits for an event line with that verb (and pid, when not 0)
// and returns its pid.
func waitEvent(t *testing.T, dir, verb string, pid int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range events(dir) {
			v, p, _ := strings.Cut(e, "=")
			n, _ := strconv.Atoi(p)
			if v == verb && (pid == 0 || n == pid) {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q event for pid %d; events: %v", verb, pid, events(dir))
	return 0
}

func TestRespawnBackoff(t *testing.T) {
	var b respawnBackoff
	var got []time.Duration
	for range 10 {
		d, limited := b.delay(time.Second)
		require.True(t, limited)
		got = append(got, d/time.Second)
	}
	// keepalived: 0, then 1 s doubling up to 32 s, then 60 s.
	assert.Equal(t, []time.Duration{0, 1, 2, 4, 8, 16, 32, 60, 60, 60}, got)
	d, limited := b.delay(2 * time.Minute)
	assert.False(t, limited, "a child that ran a minute restarts at once")
	assert.Zero(t, d)
	d, _ = b.delay(time.Second)
	assert.Zero(t, d, "and the backoff starts over")
}

func TestSelfPath(t *testing.T) {
	look := func(name string) (string, error) {
		if name == "keepalived" {
			return "/opt/bin/keepalived", nil
		}
		return "", exec.ErrNotFound
	}
	exe := func() (string, error) { return "/proc-self-exe/vrrpd", nil }
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, tc := range []struct{ arg0, want string }{
		{"/usr/sbin/keepalived", "/usr/sbin/keepalived"},
		{"./bin/keepalived", filepath.Join(wd, "bin/keepalived")},
		{"keepalived", "/opt/bin/keepalived"},
		{"unknown", "/proc-self-exe/vrrpd"},
		{"", "/proc-self-exe/vrrpd"},
	} {
		got, err := selfPath(tc.arg0, look, exe)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.arg0)
	}
}

func TestVRRPPidFlag(t *testing.T) {
	var errb bytes.Buffer
	o, err := parseFlags([]string{"-f", "k.conf", "-p", "/run/keepalived.pid"}, &errb)
	require.NoError(t, err)
	assert.Equal(t, "/run/vrrp.pid", o.vrrpPidFile, "keepalived 2.2.7's default")
	o, err = parseFlags([]string{"-r", "/run/a.pid", "-c", "/run/c.pid", "-b", "/run/b.pid"}, &errb)
	require.NoError(t, err)
	assert.Equal(t, "/run/a.pid", o.vrrpPidFile)
	o, err = parseFlags([]string{"--vrrp_pid=/run/b.pid"}, &errb)
	require.NoError(t, err)
	assert.Equal(t, "/run/b.pid", o.vrrpPidFile)
}

// TestSupervisor: SIGHUP is forwarded; a SIGKILLed child is respawned at
// once, the next one after a second (keepalived's rate limit); SIGTERM
// stops the child, then the parent.
func TestSupervisor(t *testing.T) {
	dir := t.TempDir()
	var logs syncbuf.Buffer
	s := newSupervisor(fakeSpec(dir), slog.New(slog.NewTextHandler(&logs, nil)))
	sigs := make(chan os.Signal)
	result := make(chan int, 1)
	go func() { result <- s.run(sigs) }()

	pid1 := waitEvent(t, dir, "start", 0)
	sigs <- syscall.SIGHUP
	waitEvent(t, dir, "hup", pid1)

	require.NoError(t, syscall.Kill(pid1, syscall.SIGKILL))
	start := time.Now()
	var pid2 int
	require.Eventually(t, func() bool {
		for _, e := range events(dir) {
			if v, p, _ := strings.Cut(e, "="); v == "start" && p != strconv.Itoa(pid1) {
				pid2, _ = strconv.Atoi(p)
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	t.Logf("first respawn in %v", time.Since(start))
	assert.Contains(t, logs.String(), fmt.Sprintf("VRRP child process(%d) died: Respawning", pid1))
	assert.Contains(t, logs.String(), "Restart of VRRP process delayed 0 seconds to limit respawn rate")
	pidData, err := os.ReadFile(filepath.Join(dir, "child.pid"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(pid2)+"\n", string(pidData))

	require.NoError(t, syscall.Kill(pid2, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "delayed 1 seconds")
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Count(strings.Join(events(dir), " "), "start=") == 3 },
		10*time.Second, 20*time.Millisecond)

	sigs <- syscall.SIGTERM
	select {
	case code := <-result:
		assert.Equal(t, exitOK, code)
	case <-time.After(15 * time.Second):
		t.Fatal("supervisor did not stop")
	}
	assert.Equal(t, 1, strings.Count(strings.Join(events(dir), " "), "term="), "the live child got SIGTERM: %v", events(dir))
}

// TestSupervisorPermanentError: a child that exits with a configuration
// error stops the parent with the same code, as keepalived does.
func TestSupervisorPermanentError(t *testing.T) {
	dir := t.TempDir()
	var logs syncbuf.Buffer
	s := newSupervisor(fakeSpec(dir, testExitEnv+"=5"), slog.New(slog.NewTextHandler(&logs, nil)))
	result := make(chan int, 1)
	go func() { result <- s.run(make(chan os.Signal)) }()
	select {
	case code := <-result:
		assert.Equal(t, exitConfig, code)
	case <-time.After(15 * time.Second):
		t.Fatal("supervisor did not stop")
	}
	assert.Contains(t, logs.String(), "exited with permanent error CONFIG. Terminating")
	assert.NotContains(t, logs.String(), "Respawning")
}

// TestParentDeath: SIGKILL of the parent makes the kernel send SIGTERM to
// the child (parent-death signal), which stops gracefully.
func TestParentDeath(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	require.NoError(t, err)
	parent := exec.Command(self)
	parent.Env = append(os.Environ(), testRoleEnv+"=fake-parent", testDirEnv+"="+dir)
	require.NoError(t, parent.Start())
	defer func() { _ = parent.Process.Kill() }()
	pid := waitEvent(t, dir, "start", 0)
	require.NoError(t, parent.Process.Kill())
	_ = parent.Wait()
	waitEvent(t, dir, "term", pid)
}
