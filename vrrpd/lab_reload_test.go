package vrrpd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/lab"
)

const reloadVIP2 = "10.0.1.101"

// reloadConf renders r1's config: VI_1 at prio, and VI_2 when withSecond.
func reloadConf(prio int, withSecond bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id r1\n}\n")
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  interface eth0\n  state MASTER\n  virtual_router_id 111\n  priority %d\n  advert_int 1\n  virtual_ipaddress {\n    %s/24\n  }\n}\n", prio, labVIP)
	if withSecond {
		fmt.Fprintf(&b, "vrrp_instance VI_2 {\n  interface eth0\n  state BACKUP\n  virtual_router_id 112\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    %s/24\n  }\n}\n", reloadVIP2)
	}
	return b.String()
}

// TestLabReload: SIGHUP re-reads keepalived.conf in the running vrrpd: an
// unchanged instance keeps its state (no transition), an added one starts,
// a new priority applies, a removed instance's address goes away, and a
// broken file leaves the running configuration alone.
func TestLabReload(t *testing.T) {
	t.Parallel()
	v := newVRRPLab(t, "vr7")
	defer v.stopAll()
	conf := filepath.Join(v.shared, "r1-reload.conf")
	write := func(s string) { require.NoError(t, os.WriteFile(conf, []byte(s), 0o644)) }
	write(reloadConf(120, false))
	p, err := v.l.MustNode("r1").Start(v.ctx, lab.ProcSpec{Name: "vrrpd", Args: implVrrpd.args(conf)})
	require.NoError(t, err)
	v.procs["r1"], v.impls["r1"] = p, implVrrpd
	v.start(implVrrpd, routerConf{node: "r2", version: 2, state: "BACKUP", priority: 110, advertInt: "1"})
	v.waitHolders(15*time.Second, "r1")
	r1 := v.l.MustNode("r1")
	has2 := func() bool {
		out, err := r1.Run(v.ctx, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
		require.NoError(t, err, out)
		return strings.Contains(out, " "+reloadVIP2+"/")
	}
	instance := func(name string) *InstanceStatus {
		for _, in := range v.vrrpdStatus("r1").Instances {
			if in.Name == name {
				return &in
			}
		}
		return nil
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Since(start) > 15*time.Second {
				v.dumpLogs()
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	hup := func() {
		t.Helper()
		require.NoError(t, p.Signal(syscall.SIGHUP))
	}
	transitions := instance("VI_1").Counters.Transitions

	// Add VI_2: it starts and (alone on its VRID) becomes master; VI_1
	// carries on as master without a transition.
	write(reloadConf(120, true))
	hup()
	waitFor("VI_2 master", has2)
	v.stable(time.Second, "r1")
	require.Equal(t, transitions, instance("VI_1").Counters.Transitions, "kept instance must keep its state")

	// A broken file: logged, nothing changes.
	write("vrrp_instance VI_1 {\n  interface eth0\n  priority 50\n}\n")
	hup()
	waitFor("reload failure logged", func() bool {
		data, _ := os.ReadFile(filepath.Join(r1.LogDir(), "vrrpd.log"))
		return strings.Contains(string(data), "reload failed, keeping the running configuration")
	})
	v.stable(2*time.Second, "r1")
	require.True(t, has2())
	require.Equal(t, 120, instance("VI_1").ConfiguredPriority)

	// VI_1 drops to 100 < 110: r2 preempts; VI_2 is removed with its VIP.
	write(reloadConf(100, false))
	hup()
	waitFor("VI_2 removed", func() bool { return !has2() })
	v.waitHolders(15*time.Second, "r2")
	in := instance("VI_1")
	require.Equal(t, 100, in.ConfiguredPriority)
	require.Equal(t, "BACKUP", in.State)
	require.Nil(t, instance("VI_2"))
	select {
	case <-p.Done():
		t.Fatal("vrrpd exited during reloads")
	default:
	}
}
