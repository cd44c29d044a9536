package faults

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"halab/internal/gobuild"
	"halab/lab"
)

// upLab brings up the simple topology as lab flt1 with labapp built into a
// directory the nodes see (not /tmp), its run entries started.
func upLab(t *testing.T, ctx context.Context) (*lab.Lab, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root")
	}
	bin := gobuild.ForTest(t, "../cmd/labapp")
	data, err := os.ReadFile(filepath.Join("..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	topo, err := lab.ParseTopology("flt1.yaml", []byte(strings.Replace(string(data), "name: simple", "name: flt1", 1)))
	require.NoError(t, err)
	_ = lab.Down(ctx, "flt1")
	l, err := lab.Up(ctx, topo, lab.WithBinDir(bin))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	return l, bin
}

// procs lists the top-level processes of a node named name.
func procs(t *testing.T, e *Engine, node, name string) []Proc {
	t.Helper()
	ps, err := e.find(node, name)
	require.NoError(t, err)
	return ps
}

func nftTables(t *testing.T, ctx context.Context, n *lab.Node) string {
	t.Helper()
	out, err := n.Run(ctx, "nft", "list", "tables")
	require.NoError(t, err, out)
	return out
}

// The engine as both callers drive it: a scenario registers its daemons and
// calls methods; the page names daemons by process name through Apply.
func TestLabEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	l, bin := upLab(t, ctx)
	e := New(l)

	// A registered daemon (the scenario's way), acted on by its process
	// name (the page's way).
	require.NoError(t, e.Register("nginx01", "web", lab.ProcSpec{Name: "web", Args: []string{filepath.Join(bin, "labapp"), "-listen", ":8080"}}))
	require.NoError(t, e.StartDaemon(ctx, "nginx01", "web"))
	assert.True(t, e.Running("nginx01", "web"))
	require.Eventually(t, func() bool { return len(procs(t, e, "nginx01", "labapp")) == 1 }, 5*time.Second, 20*time.Millisecond)
	first := procs(t, e, "nginx01", "labapp")[0].PID
	require.NoError(t, e.Apply(ctx, Action{Kind: "stop", Node: "nginx01", Daemon: "labapp"}))
	require.Eventually(t, func() bool { p, ok := ReadProc(first); return ok && p.Stopped() }, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, e.Apply(ctx, Action{Kind: "restart", Node: "nginx01", Daemon: "labapp"}), "a frozen daemon restarts at once")
	again := procs(t, e, "nginx01", "labapp")
	require.Len(t, again, 1)
	assert.NotEqual(t, first, again[0].PID)
	require.NoError(t, e.SignalDaemon(ctx, "nginx01", "web", syscall.SIGKILL))
	require.Eventually(t, func() bool { return !e.Running("nginx01", "web") }, 5*time.Second, 20*time.Millisecond)
	assert.ErrorContains(t, e.SignalDaemon(ctx, "nginx01", "web", syscall.SIGTERM), "not running")
	require.NoError(t, e.StartDaemon(ctx, "nginx01", "web"))
	assert.True(t, e.Running("nginx01", "web"))

	// An unregistered daemon (a run entry) stopped and started by name.
	require.Len(t, procs(t, e, "app01", "labapp"), 1)
	require.NoError(t, e.StopDaemon(ctx, "app01", "labapp"))
	assert.Empty(t, procs(t, e, "app01", "labapp"))
	require.NoError(t, e.Apply(ctx, Action{Kind: "start", Node: "app01", Daemon: "labapp"}))
	require.Eventually(t, func() bool { return len(procs(t, e, "app01", "labapp")) == 1 }, 5*time.Second, 20*time.Millisecond)
	assert.Error(t, e.StartDaemon(ctx, "app01", "nginx"), "nothing known to start")

	// Crash: processes gone, links down, VIPs removed; recover brings the
	// run entry and the registered daemon back.
	n := l.MustNode("nginx01")
	h, err := n.Handle()
	require.NoError(t, err)
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	require.NoError(t, err)
	require.NoError(t, h.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("10.0.1.100").To4(), Mask: net.CIDRMask(32, 32)}}))
	require.NoError(t, e.Apply(ctx, Action{Kind: "crash", Node: "nginx01"}))
	ifs, err := n.Interfaces()
	require.NoError(t, err)
	for _, i := range ifs {
		assert.False(t, i.Up, i.Name)
		assert.NotContains(t, i.Addresses, "10.0.1.100/32", "a crashed node loses its VIPs")
	}
	require.Eventually(t, func() bool { return !e.Running("nginx01", "web") }, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, e.Crash(ctx, "app02"))
	assert.Empty(t, procs(t, e, "app02", "labapp"))
	require.NoError(t, e.Recover(ctx, "nginx01"))
	require.NoError(t, e.Apply(ctx, Action{Kind: "return", Node: "app02"}))
	assert.True(t, e.Running("nginx01", "web"))
	require.Eventually(t, func() bool { return len(procs(t, e, "app02", "labapp")) == 1 }, 5*time.Second, 20*time.Millisecond)
	ifs, err = l.MustNode("app02").Interfaces()
	require.NoError(t, err)
	assert.True(t, ifs[0].Up)

	// VRRP blocks: per pair from the page, all at once from a scenario.
	n2 := l.MustNode("nginx02")
	require.NoError(t, e.Apply(ctx, Action{Kind: "block_vrrp", Node: "nginx01", Peer: "nginx02"}))
	assert.Contains(t, nftTables(t, ctx, n), "halab_vrrp_nginx02")
	assert.Contains(t, nftTables(t, ctx, n2), "halab_vrrp_nginx01")
	rules, err := n.Run(ctx, "nft", "list", "table", "inet", "halab_vrrp_nginx02")
	require.NoError(t, err)
	assert.Regexp(t, `ether saddr \{ [0-9a-f:]+, [0-9a-f:]+ \} meta l4proto (vrrp|112) drop`, rules)
	require.NoError(t, e.Apply(ctx, Action{Kind: "unblock_vrrp", Node: "nginx01", Peer: "nginx02"}))
	assert.NotContains(t, nftTables(t, ctx, n), "halab_vrrp")
	require.NoError(t, e.BlockVRRP(ctx, "nginx01", "nginx02", "client"))
	assert.Contains(t, nftTables(t, ctx, l.MustNode("client")), "halab_vrrp_nginx01")
	require.NoError(t, e.UnblockVRRP(ctx))
	for _, name := range []string{"nginx01", "nginx02", "client"} {
		assert.NotContains(t, nftTables(t, ctx, l.MustNode(name)), "halab_vrrp", name)
	}
	assert.Error(t, e.Apply(ctx, Action{Kind: "dance", Node: "nginx01"}))
	assert.Error(t, e.Apply(ctx, Action{Kind: "crash", Node: "nginx09"}))
}
