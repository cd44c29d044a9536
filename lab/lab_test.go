package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"halab/internal/labapp"
)

// lanPeers maps each node to the addresses of the other nodes on its LANs.
func lanPeers(topo *Topology) map[string][]string {
	onLAN := map[string][]struct{ node, addr string }{}
	for _, n := range topo.Nodes {
		for _, i := range n.Interfaces {
			for _, a := range i.Addresses {
				onLAN[i.LAN] = append(onLAN[i.LAN], struct{ node, addr string }{n.Name, a.Prefix.Addr().String()})
			}
		}
	}
	out := map[string][]string{}
	for _, members := range onLAN {
		for _, m := range members {
			for _, o := range members {
				if o.node != m.node {
					out[m.node] = append(out[m.node], o.addr)
				}
			}
		}
	}
	return out
}

func TestArticleTopologies(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct{ file, name, app01, app02 string }{
		{"simple.yaml", "lt-simple", "10.0.2.21", "10.0.2.22"},
		{"complex.yaml", "lt-complex", "10.0.3.21", "10.0.3.22"},
		{"active-active.yaml", "lt-aa", "10.0.3.21", "10.0.3.22"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			l := upTopology(t, tc.file, tc.name)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			peers := lanPeers(l.Topology())
			for _, name := range l.NodeNames() {
				n := l.MustNode(name)
				out, err := n.Run(ctx, "hostname")
				require.NoError(t, err)
				assert.Equal(t, name, strings.TrimSpace(out), "hostname")

				// Every address on every LAN the node is on answers.
				script := "for a in " + strings.Join(peers[name], " ") + "; do ping -n -q -c1 -W3 $a >/dev/null || echo unreachable $a; done"
				out, err = n.Run(ctx, "sh", "-c", script)
				require.NoError(t, err, out)
				assert.Empty(t, strings.TrimSpace(out), "from %s", name)

				// MACs are derived from the names.
				ifs, err := n.Interfaces()
				require.NoError(t, err)
				for _, i := range ifs {
					assert.Equal(t, MAC(tc.name, name, i.Name).String(), i.MAC, "%s:%s", name, i.Name)
				}
			}
			// The apps answer with what they saw, across the back LAN.
			balancer := "nginx01"
			if tc.file != "simple.yaml" {
				balancer = "haproxy01"
			}
			for app, addr := range map[string]string{"app01": tc.app01, "app02": tc.app02} {
				out, err := waitHTTP(ctx, l.MustNode(balancer), "http://"+addr+"/probe")
				require.NoError(t, err, out)
				var seen labapp.Seen
				require.NoError(t, json.Unmarshal([]byte(out), &seen), out)
				assert.Equal(t, app, seen.App)
				assert.Equal(t, "/probe", seen.URI)
			}
		})
	}
}

// waitHTTP fetches a URL with curl from a node, retrying while the server
// starts.
func waitHTTP(ctx context.Context, n *Node, url string) (string, error) {
	var out string
	var err error
	for i := 0; i < 50; i++ {
		out, err = n.Run(ctx, "curl", "-sf", "--max-time", "3", url)
		if err == nil {
			return out, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out, err
}

func TestRoutesThroughDirector(t *testing.T) {
	l := upTopology(t, "active-active.yaml", "lt-route", WithoutRun())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nginx := l.MustNode("nginx01")
	// Without the gateway VIP the edge LAN is out of reach.
	_, err := nginx.Run(ctx, "ping", "-n", "-c1", "-W1", "10.0.0.3")
	require.Error(t, err)

	// Put the gateway VIP on lvs01, as vrrpd would: nginx01 reaches lvs02's
	// edge address through lvs01, which forwards (ip_forward=1).
	h, err := l.MustNode("lvs01").Handle()
	require.NoError(t, err)
	defer h.Close()
	link, err := h.LinkByName("eth1")
	require.NoError(t, err)
	vip, err := netlink.ParseAddr("10.0.1.1/24")
	require.NoError(t, err)
	require.NoError(t, h.AddrAdd(link, vip))
	out, err := nginx.Run(ctx, "ping", "-n", "-c1", "-W3", "10.0.0.3")
	require.NoError(t, err, out)
	out, err = nginx.Run(ctx, "ip", "route", "get", "10.0.0.3")
	require.NoError(t, err)
	assert.Contains(t, out, "via 10.0.1.1")
	fwd, err := l.MustNode("lvs01").Run(ctx, "sysctl", "-n", "net.ipv4.ip_forward")
	require.NoError(t, err)
	assert.Equal(t, "1", strings.TrimSpace(fwd))
}

func TestNodeIsolation(t *testing.T) {
	l := upTopology(t, "simple.yaml", "lt-iso")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	app01, app02, nginx01 := l.MustNode("app01"), l.MustNode("app02"), l.MustNode("nginx01")

	// pid namespace: a node sees its own processes only, and its init as PID 1.
	out, err := app01.Run(ctx, "ps", "-e", "-o", "pid=,comm=")
	require.NoError(t, err)
	var comms []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 2, line)
		if f[0] == "1" {
			assert.Equal(t, "halab-init", f[1])
		}
		comms = append(comms, f[1])
	}
	sort.Strings(comms)
	assert.Equal(t, []string{"halab-init", "labapp", "ps"}, comms)
	_, err = app01.Run(ctx, "killall", "-0", "labapp")
	assert.NoError(t, err, "labapp runs in app01")
	_, err = nginx01.Run(ctx, "killall", "-0", "labapp")
	assert.Error(t, err, "nginx01 must not see app01's labapp")

	// Private /run, /tmp and /var/log.
	for _, dir := range []string{"/run", "/tmp", "/var/log"} {
		marker := filepath.Join(dir, "halab-marker-"+l.Name())
		_, err := app01.Run(ctx, "sh", "-c", "echo x > "+marker)
		require.NoError(t, err)
		_, err = app02.Run(ctx, "test", "-e", marker)
		assert.Error(t, err, "%s is shared with app02", marker)
		_, err = os.Stat(marker)
		assert.True(t, errors.Is(err, os.ErrNotExist), "%s leaked to the host", marker)
	}
	if _, err := os.Stat("/var/log/nginx"); err == nil {
		_, err := app01.Run(ctx, "test", "-d", "/var/log/nginx")
		assert.NoError(t, err, "the node's /var/log has the host's directory skeleton")
	}
	// The shared dir is visible at the same path in nodes.
	require.NoError(t, os.WriteFile(filepath.Join(l.SharedDir(), "hello"), []byte("hi"), 0o644))
	out, err = app02.Run(ctx, "cat", filepath.Join(l.SharedDir(), "hello"))
	require.NoError(t, err)
	assert.Equal(t, "hi", out)

	// `ip netns` names work the usual way.
	list, err := exec.Command("ip", "netns", "list").Output()
	require.NoError(t, err)
	for _, n := range l.NodeNames() {
		assert.Contains(t, string(list), NetnsName(l.Name(), n))
	}
	out2, err := exec.Command("ip", "netns", "exec", NetnsName(l.Name(), "app01"), "ip", "-4", "-o", "addr").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out2), "10.0.2.21/24")

	// No lab address exists or routes in the host namespace.
	hostAddrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range hostAddrs {
		assert.NotContains(t, a.String(), "10.0.2.21")
	}
	route, _ := exec.Command("ip", "route", "get", "10.0.2.21").CombinedOutput()
	assert.NotContains(t, string(route), "br-")
}

func TestProcessLifecycle(t *testing.T) {
	l := upTopology(t, "simple.yaml", "lt-proc", WithoutRun())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := l.MustNode("client")

	p, err := n.Start(ctx, ProcSpec{Name: "sleeper", Args: []string{"sleep", "300"}})
	require.NoError(t, err)
	require.Positive(t, p.PID())
	assert.Greater(t, p.NodePID(), 1)
	hostNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.PID()))
	require.NoError(t, err)
	initNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", n.InitPID()))
	require.NoError(t, err)
	assert.Equal(t, initNS, hostNS, "the process lives in the node's pid namespace")
	require.NoError(t, p.Signal(syscall.SIGTERM))
	err = p.Wait()
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	assert.True(t, ee.Status.Signaled())
	assert.Equal(t, 128+int(syscall.SIGTERM), p.ExitCode())
	assert.ErrorIs(t, p.Signal(syscall.SIGTERM), os.ErrProcessDone)

	// Output goes to the node's log.
	p, err = n.Start(ctx, ProcSpec{Name: "hello", Args: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
	require.NoError(t, err)
	require.ErrorAs(t, p.Wait(), &ee)
	assert.Equal(t, 3, ee.ExitCode())
	b, err := os.ReadFile(filepath.Join(n.LogDir(), "hello.log"))
	require.NoError(t, err)
	assert.Equal(t, "out\nerr\n", string(b))

	// Stop escalates to SIGKILL for a process that ignores SIGTERM.
	p, err = n.Start(ctx, ProcSpec{Name: "stubborn", Args: []string{"sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}})
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	stopCtx, stopCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stopCancel()
	require.NoError(t, p.Stop(stopCtx))
	assert.Equal(t, 128+int(syscall.SIGKILL), p.ExitCode())

	// Orphans are reaped by the node's init: no zombies stay behind.
	_, err = n.Run(ctx, "sh", "-c", "(sleep 0.1 &) ; true")
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	out, err := n.Run(ctx, "ps", "-e", "-o", "stat=")
	require.NoError(t, err)
	assert.NotContains(t, out, "Z")

	// A missing command is a clear error.
	_, err = n.Start(ctx, ProcSpec{Args: []string{"no-such-command-halab"}})
	assert.ErrorContains(t, err, "executable file not found")
}

func TestTwoLabsCoexist(t *testing.T) {
	a := upTopology(t, "simple.yaml", "lt-two-a", WithoutRun())
	b := upTopology(t, "simple.yaml", "lt-two-b", WithoutRun())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, l := range []*Lab{a, b} {
		out, err := l.MustNode("client").Run(ctx, "ping", "-n", "-c1", "-W3", "10.0.1.11")
		require.NoError(t, err, out)
	}
	// Same addresses, different MACs: the labs do not share a wire.
	ia, err := a.MustNode("client").Interfaces()
	require.NoError(t, err)
	ib, err := b.MustNode("client").Interfaces()
	require.NoError(t, err)
	assert.NotEqual(t, ia[0].MAC, ib[0].MAC)
}

// hostSnapshot records what a lab could leave behind on the host.
type hostSnapshot struct {
	Links  []string
	Mounts []string
	Netns  []string
	Inits  []string
	State  bool
}

func snapshot(t *testing.T, labPrefix string) hostSnapshot {
	t.Helper()
	var s hostSnapshot
	links, err := netlink.LinkList()
	require.NoError(t, err)
	for _, l := range links {
		s.Links = append(s.Links, l.Attrs().Name)
	}
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Other test packages may build labs meanwhile: only this test's
		// labs and halab's own directories count.
		if len(fields) > 4 && (strings.Contains(fields[4], labPrefix) || strings.HasPrefix(fields[4], StateRoot)) {
			s.Mounts = append(s.Mounts, fields[4])
		}
	}
	ents, _ := os.ReadDir(NetnsDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), labPrefix) {
			s.Netns = append(s.Netns, e.Name())
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), initArg0+"\x00"+labPrefix) {
			s.Inits = append(s.Inits, p.Name())
		}
	}
	_, err = os.Stat(StateDir(labPrefix))
	s.State = err == nil
	return s
}

func TestTeardownLeavesHostAsBefore(t *testing.T) {
	requireRoot(t)
	before := snapshot(t, "lt-clean")
	for _, file := range []string{"simple.yaml", "complex.yaml", "active-active.yaml"} {
		topo, err := LoadTopology(filepath.Join("..", "topologies", file))
		require.NoError(t, err)
		topo.Name = "lt-clean"
		l, err := Up(context.Background(), topo, WithBinDir(testBinDir))
		require.NoError(t, err)
		during := snapshot(t, "lt-clean")
		assert.Equal(t, before.Links, during.Links, "a lab creates no link in the host namespace")
		assert.NotEmpty(t, during.Netns)
		require.NoError(t, l.Down(context.Background()))
		assert.Equal(t, before, snapshot(t, "lt-clean"), "after down of %s", file)
		// Down is idempotent.
		require.NoError(t, Down(context.Background(), "lt-clean"))
	}
}

func TestUpRefusesExistingLab(t *testing.T) {
	l := upTopology(t, "simple.yaml", "lt-dup", WithoutRun())
	_, err := Up(context.Background(), l.Topology())
	require.ErrorContains(t, err, `lab "lt-dup" is already up`)
	// The running lab is untouched.
	_, err = l.MustNode("client").Run(context.Background(), "true")
	require.NoError(t, err)
}

func TestUpFailureCleansUp(t *testing.T) {
	requireRoot(t)
	topo, err := LoadTopology(filepath.Join("..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	topo.Name = "lt-fail"
	// A sysctl the kernel refuses fails the node's init half way.
	topo.Nodes[2].Sysctls = map[string]string{"net.ipv4.no_such_sysctl": "1"}
	before := snapshot(t, "lt-fail")
	_, err = Up(context.Background(), topo, WithoutRun())
	require.ErrorContains(t, err, "net.ipv4.no_such_sysctl")
	assert.Equal(t, before, snapshot(t, "lt-fail"))
}

// TestDownAfterSIGKILL kills a `lab up` at many moments and checks that
// `lab down` removes everything it had created.
func TestDownAfterSIGKILL(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	topoFile, err := filepath.Abs(filepath.Join("..", "topologies", "complex.yaml"))
	require.NoError(t, err)
	before := snapshot(t, "lt-crash")
	for _, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, -1} {
		t.Run(fmt.Sprint(delay), func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "HALAB_TEST_UP="+topoFile, "HALAB_TEST_UP_NAME=lt-crash")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			if delay >= 0 {
				time.Sleep(delay)
			} else {
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				require.Equal(t, "up\n", line, "the lab came up")
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			require.NoError(t, Down(context.Background(), "lt-crash"))
			assert.Equal(t, before, snapshot(t, "lt-crash"))
		})
	}
}

func TestNotRoot(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "halab-notroot-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "lab.test")
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, data, 0o755))
	topo, err := filepath.Abs(filepath.Join("..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = []string{"HALAB_TEST_UP=" + topo, "HALAB_TEST_UP_NAME=lt-noroot", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "must run as root")
	_, err = os.Stat(StateDir("lt-noroot"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
	_, err = os.Stat(NetnsPath("lt-noroot", "client"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestPointToPointLinksAndRoutes(t *testing.T) {
	requireRoot(t)
	// Three routers in a line: r00 reaches r02's far address through r01,
	// which forwards; r02 answers through its default route.
	topo := chainTopology("lt-chain", 3)
	topo.Nodes[2].Routes = []RouteSpec{{To: "default", Via: "10.2.1.1"}}
	require.NoError(t, topo.Validate())
	l, err := Up(context.Background(), topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := l.MustNode("r00").Run(ctx, "ping", "-n", "-c1", "-W3", "10.2.1.2")
	require.NoError(t, err, out)
	out, err = l.MustNode("r00").Run(ctx, "ip", "-o", "link", "show", "right")
	require.NoError(t, err)
	assert.Contains(t, out, MAC("lt-chain", "r00", "right").String())
}

func TestStatusShowsVRRP(t *testing.T) {
	l := upTopology(t, "simple.yaml", "lt-vrrp", WithoutRun())
	ctx := context.Background()
	// What vrrpd publishes in the node's private /run.
	doc := `{"instances":[{"name":"lb_nginx","interface":"eth0","vrid":111,"state":"MASTER","configured_priority":85,"effective_priority":95,"master":"10.0.1.11","vips":["10.0.1.100/32"]}]}`
	_, err := l.MustNode("nginx01").Run(ctx, "sh", "-c", "mkdir -p /run/vrrpd && echo '"+doc+"' > /run/vrrpd/status.json")
	require.NoError(t, err)
	st, err := l.Status()
	require.NoError(t, err)
	var got []VRRPStatus
	for _, n := range st {
		if n.Name == "nginx01" {
			got = n.VRRP
		} else {
			assert.Empty(t, n.VRRP, n.Name)
		}
	}
	require.Len(t, got, 1)
	assert.Equal(t, VRRPStatus{Name: "lb_nginx", Interface: "eth0", VRID: 111, State: "MASTER", ConfiguredPriority: 85, EffectivePriority: 95, Master: "10.0.1.11", VIPs: []string{"10.0.1.100/32"}}, got[0])
	var b strings.Builder
	WriteStatus(&b, l.Name(), st)
	assert.Contains(t, b.String(), "95 (configured 85)")
}

// TestBinDirUnderTmp: halab built in a checkout under /tmp (as a CI clone
// may be) still runs its binaries in nodes, whose /tmp is private.
func TestBinDirUnderTmp(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir() // under /tmp
	data, err := os.ReadFile(filepath.Join(testBinDir, "labapp"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labapp"), data, 0o755))
	topo, err := LoadTopology(filepath.Join("..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	topo.Name = "lt-tmpbin"
	_ = Down(context.Background(), topo.Name)
	l, err := Up(context.Background(), topo, WithBinDir(dir))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	out, err := waitHTTP(context.Background(), l.MustNode("nginx01"), "http://10.0.2.21/")
	require.NoError(t, err, out)
	assert.Contains(t, out, `"app":"app01"`)
	// The node's /tmp stays its own apart from that directory.
	_, err = l.MustNode("app01").Run(context.Background(), "sh", "-c", "echo x > /tmp/own && test -x "+filepath.Join(dir, "labapp"))
	require.NoError(t, err)
	_, err = os.Stat("/tmp/own")
	assert.True(t, errors.Is(err, os.ErrNotExist))
}
