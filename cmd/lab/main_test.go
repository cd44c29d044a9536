package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/internal/syncbuf"
)

// binDir holds lab and labapp built for these tests, outside /tmp (which
// nodes do not share with the host).
var binDir string

func TestMain(m *testing.M) {
	os.Exit(gobuild.Main(m, os.Geteuid() == 0, &binDir, ".", "../labapp", "../vrrpd", "../proxyd"))
}

func labCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "lab"), args...).CombinedOutput()
	return string(out), err
}

// topologyCopy writes an article topology under another lab name.
func topologyCopy(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "topologies", file))
	require.NoError(t, err)
	lines := strings.SplitN(string(b), "\nname: ", 2)
	require.Len(t, lines, 2)
	rest := lines[1][strings.Index(lines[1], "\n"):]
	path := filepath.Join(t.TempDir(), file)
	require.NoError(t, os.WriteFile(path, []byte(lines[0]+"\nname: "+name+rest), 0o644))
	return path
}

func TestCLILifecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	topo := topologyCopy(t, "simple.yaml", "ct-cli")
	_, _ = labCmd(t, "down", "ct-cli")
	t.Cleanup(func() { _, _ = labCmd(t, "down", "ct-cli") })

	out, err := labCmd(t, "up", topo)
	require.NoError(t, err, out)
	assert.Contains(t, out, "lab ct-cli is up (5 nodes")
	assert.Contains(t, out, "10.0.2.21/24")
	assert.Contains(t, out, "ip netns exec ct-cli-client")

	// The lab outlives the `lab up` process.
	out, err = labCmd(t, "status", "ct-cli")
	require.NoError(t, err, out)
	for _, want := range []string{"client", "nginx01", "app02", "10.0.1.12/24", "labapp -listen :80"} {
		assert.Contains(t, out, want)
	}

	out, err = labCmd(t, "exec", "-l", "ct-cli", "nginx02", "--", "hostname")
	require.NoError(t, err, out)
	assert.Equal(t, "nginx02\n", out)
	_, err = labCmd(t, "exec", "-l", "ct-cli", "client", "--", "sh", "-c", "exit 7")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 7, ee.ExitCode(), "lab exec returns the command's exit code")

	var body string
	for i := 0; i < 50; i++ {
		body, err = labCmd(t, "exec", "-l", "ct-cli", "nginx01", "--", "curl", "-sf", "http://10.0.2.22/hello")
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, body)
	assert.Contains(t, body, `"app":"app02"`)

	// lab trace shows the handshake of a request, tcpdump style.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	trace := exec.CommandContext(ctx, filepath.Join(binDir, "lab"), "trace", "-l", "ct-cli", "app01:eth0", "tcp", "port", "80")
	var traceOut, traceErr syncbuf.Buffer
	trace.Stdout, trace.Stderr = &traceOut, &traceErr
	require.NoError(t, trace.Start())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(traceErr.String(), "tracing") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_, err = labCmd(t, "exec", "-l", "ct-cli", "nginx01", "--", "curl", "-sf", "-o", "/dev/null", "http://10.0.2.21/")
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, trace.Process.Signal(syscall.SIGINT))
	require.NoError(t, trace.Wait(), traceErr.String())
	assert.Regexp(t, `app01:eth0 \S+ IP 10\.0\.2\.11\.\d+ > 10\.0\.2\.21\.80: Flags \[S\]`, traceOut.String())
	assert.Contains(t, traceErr.String(), "0 dropped")

	out, err = labCmd(t, "down", "ct-cli")
	require.NoError(t, err, out)
	out, err = labCmd(t, "down", "ct-cli")
	require.NoError(t, err, out, "down is idempotent")
	_, err = labCmd(t, "status", "ct-cli")
	require.Error(t, err)
}

func TestCLIBadTopology(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: ct-bad\nlans: [a]\nnodes:\n  - name: x\n    interfaces:\n      - {name: eth0, lan: b}\n"), 0o644))
	out, err := labCmd(t, "up", path)
	require.Error(t, err)
	assert.Contains(t, out, path+`:6: node x interface eth0: unknown LAN "b"`)
	_, err = os.Stat("/run/halab/ct-bad")
	assert.True(t, os.IsNotExist(err), "nothing created")
}

func TestCLIExecTTY(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	topo := topologyCopy(t, "simple.yaml", "ct-tty")
	_, _ = labCmd(t, "down", "ct-tty")
	t.Cleanup(func() { _, _ = labCmd(t, "down", "ct-tty") })
	out, err := labCmd(t, "up", "--no-run", topo)
	require.NoError(t, err, out)

	master, slave, err := openPTY()
	require.NoError(t, err)
	defer master.Close()
	cmd := exec.Command(filepath.Join(binDir, "lab"), "exec", "-l", "ct-tty", "client", "--", "sh", "-c", "tty; hostname; test -t 0 && echo interactive")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	slave.Close()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, master); close(done) }()
	require.NoError(t, cmd.Wait())
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	s := buf.String()
	assert.Contains(t, s, "/dev/pts/")
	assert.Contains(t, s, "client")
	assert.Contains(t, s, "interactive")
}

// TestCLIUpScenario brings the simple architecture up with our daemons
// through `lab up SCENARIO`, as `make lab-simple` does, and checks it keeps
// serving through the VIP after the command returns.
func TestCLIUpScenario(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: run make test")
	}
	dir := t.TempDir()
	topo := topologyCopy(t, "simple.yaml", "ct-up")
	require.NoError(t, os.Rename(topo, filepath.Join(dir, "topo.yaml")))
	require.NoError(t, exec.Command("cp", "-r", "../../scenarios/article/simple", dir).Run())
	b, err := os.ReadFile("../../scenarios/article/simple-steady.yaml")
	require.NoError(t, err)
	sc := strings.Replace(string(b), "topology: ../../topologies/simple.yaml", "topology: topo.yaml", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "steady.yaml"), []byte(sc), 0o644))
	_, _ = labCmd(t, "down", "ct-up")
	t.Cleanup(func() { _, _ = labCmd(t, "down", "ct-up") })

	out, err := labCmd(t, "up", "--impl", "go", filepath.Join(dir, "steady.yaml"))
	require.NoError(t, err, out)
	assert.Contains(t, out, "--- PASS simple-steady [go]")
	assert.Contains(t, out, "lab ct-up is up with the go daemons")
	assert.Regexp(t, `nginx01\s+lb_nginx \(eth0\)\s+111\s+MASTER\s+95 \(configured 85\)`, out)

	body, err := labCmd(t, "exec", "-l", "ct-up", "client", "--", "curl", "-sf", "-H", "Host: www.example.com", "http://10.0.1.100/")
	require.NoError(t, err, body)
	assert.Contains(t, body, `"x_real_ip":"10.0.1.10"`)
}
