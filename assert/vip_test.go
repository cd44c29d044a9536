package assert

import (
	"github.com/stretchr/testify/require"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"halab/lab"
)

// replay is a StatusSource that plays recorded snapshots, one per call,
// and then keeps the last.
type replay struct {
	mu    sync.Mutex
	snaps [][]lab.NodeStatus
}

func (r *replay) Status() ([]lab.NodeStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.snaps[0]
	if len(r.snaps) > 1 {
		r.snaps = r.snaps[1:]
	}
	return s, nil
}

func node(name string, addrs ...string) lab.NodeStatus {
	return lab.NodeStatus{Name: name, Interfaces: []lab.IfaceStatus{{Name: "eth0", Up: true, Addresses: addrs}}}
}

func snap(nodes ...lab.NodeStatus) []lab.NodeStatus { return nodes }

func TestVIPChecks(t *testing.T) {
	const vip = "10.0.1.100"
	n1 := node("nginx01", "10.0.1.11/24")
	n1v := node("nginx01", "10.0.1.11/24", "10.0.1.100/32")
	n2 := node("nginx02", "10.0.1.12/24")
	n2v := node("nginx02", "10.0.1.12/24", "10.0.1.100/32")
	tests := []struct {
		name  string
		snaps [][]lab.NodeStatus
		run   func(t TestingT, src StatusSource) bool
		want  string // failure substring; "" must pass
	}{
		{"holder now", [][]lab.NodeStatus{snap(n1v, n2)}, func(t TestingT, s StatusSource) bool { return VIPHolder(t, s, vip, "nginx01", 0) }, ""},
		{"holder later", [][]lab.NodeStatus{snap(n1v, n2), snap(n1, n2), snap(n1, n2v)},
			func(t TestingT, s StatusSource) bool { return VIPHolder(t, s, vip, "nginx02", 2*time.Second) }, ""},
		{"holder never", [][]lab.NodeStatus{snap(n1v, n2)},
			func(t TestingT, s StatusSource) bool { return VIPHolder(t, s, vip, "nginx02", 200*time.Millisecond) },
			"expected VIP 10.0.1.100 held by nginx02 alone within 200ms\nsaw held by nginx01"},
		{"holder in split brain", [][]lab.NodeStatus{snap(n1v, n2v)},
			func(t TestingT, s StatusSource) bool { return VIPHolder(t, s, vip, "nginx02", 0) },
			"saw held by nginx01 and nginx02 (split brain)"},
		{"one holder", [][]lab.NodeStatus{snap(n1, n2v)}, func(t TestingT, s StatusSource) bool { return OneHolder(t, s, vip, 0) }, ""},
		{"no holder", [][]lab.NodeStatus{snap(n1, n2)}, func(t TestingT, s StatusSource) bool { return OneHolder(t, s, vip, 0) },
			"expected VIP 10.0.1.100 held by exactly one node now\nsaw no node holding it"},
		{"split brain expected", [][]lab.NodeStatus{snap(n1v, n2), snap(n1v, n2v)},
			func(t TestingT, s StatusSource) bool { return SplitBrain(t, s, vip, time.Second) }, ""},
		{"split brain missing", [][]lab.NodeStatus{snap(n1v, n2)},
			func(t TestingT, s StatusSource) bool { return SplitBrain(t, s, vip, 0) }, "saw held by nginx01"},
		{"bad vip", [][]lab.NodeStatus{snap(n1v)}, func(t TestingT, s StatusSource) bool { return OneHolder(t, s, "x", 0) }, "saw an error: vip \"x\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var passed bool
			msg := check(func(r TestingT) { passed = tt.run(r, &replay{snaps: tt.snaps}) })
			if tt.want == "" {
				requirePass(t, msg)
				assert.True(t, passed)
				return
			}
			assert.False(t, passed)
			assert.Contains(t, msg, tt.want)
		})
	}
}

func TestVRRPState(t *testing.T) {
	backup := node("nginx01")
	backup.VRRP = []lab.VRRPStatus{{Name: "VI_1", State: "BACKUP", EffectivePriority: 85}}
	master := node("nginx01")
	master.VRRP = []lab.VRRPStatus{{Name: "VI_1", State: "MASTER", EffectivePriority: 95}}
	src := &replay{snaps: [][]lab.NodeStatus{snap(backup), snap(master)}}
	requirePass(t, check(func(r TestingT) { VRRPState(r, src, "nginx01", "VI_1", "MASTER", time.Second) }))

	src = &replay{snaps: [][]lab.NodeStatus{snap(backup)}}
	msg := check(func(r TestingT) { VRRPState(r, src, "nginx01", "", "MASTER", 0) })
	assert.Contains(t, msg, "expected VRRP on nginx01 in state MASTER now\nsaw VI_1 BACKUP (priority 85)")
	msg = check(func(r TestingT) { VRRPState(r, src, "nginx01", "VI_9", "MASTER", 0) })
	assert.Contains(t, msg, "saw no instance VI_9 on nginx01")
	src = &replay{snaps: [][]lab.NodeStatus{snap(node("nginx01"))}}
	assert.Contains(t, check(func(r TestingT) { VRRPState(r, src, "nginx01", "", "MASTER", 0) }), "no VRRP status on nginx01")
	assert.Contains(t, check(func(r TestingT) { VRRPState(r, src, "nginx09", "", "MASTER", 0) }), "saw no node nginx09")
}

func TestHoldersIgnoreDownLinksAndReadLabels(t *testing.T) {
	addr := netip.MustParseAddr("10.0.1.100")
	st := []lab.NodeStatus{
		{Name: "crashed", Interfaces: []lab.IfaceStatus{{Name: "eth0", Up: false, Addresses: []string{"10.0.1.100/32"}}}},
		{Name: "labelled", Interfaces: []lab.IfaceStatus{{Name: "eth0", Up: true, Addresses: []string{"10.0.1.100/32 (eth0:vip)"}}}},
	}
	require.Equal(t, []string{"labelled"}, HoldersIn(st, addr))
}
