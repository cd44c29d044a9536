package vrrpd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLabProcessModel checks vrrpd's process model against keepalived's,
// each implementation on both routers: the daemon is a parent and a VRRP
// child under the same name; SIGKILL of the child makes the parent respawn
// it (the new child starts as backup, drops the VIP and preempts back);
// SIGKILL of the parent makes the child stop gracefully, so the backup
// takes over at once (priority 0) and the old master drops the VIP.
func TestLabProcessModel(t *testing.T) {
	t.Parallel()
	requireLab(t)
	for k, i := range []impl{implVrrpd, implKeepalived} {
		t.Run(string(i), func(t *testing.T) {
			t.Parallel()
			v := newVRRPLab(t, fmt.Sprintf("vr9-%d", k))
			defer v.stopAll()
			v.start(i, routerConf{node: "r1", version: 2, state: "MASTER", priority: 100, advertInt: "1"})
			v.start(i, routerConf{node: "r2", version: 2, state: "BACKUP", priority: 90, advertInt: "1"})
			v.waitHolders(15*time.Second, "r1")
			n := v.l.MustNode("r1")
			parent := v.procs["r1"]
			run := func(args ...string) string {
				t.Helper()
				out, err := n.Run(v.ctx, args...)
				require.NoError(t, err, out)
				return strings.TrimSpace(out)
			}
			child := v.waitChild("r1", 0)
			require.Equal(t, strconv.Itoa(parent.NodePID()), strings.Fields(run("ps", "-o", "ppid=", "-p", strconv.Itoa(child)))[0])
			require.Equal(t, run("cat", fmt.Sprintf("/proc/%d/comm", parent.NodePID())), run("cat", fmt.Sprintf("/proc/%d/comm", child)),
				"parent and child run under the same name")

			// SIGKILL of the child: respawned at once, it starts as backup
			// and removes the VIP, then preempts r2 back.
			run("kill", "-KILL", strconv.Itoa(child))
			respawned := v.waitChild("r1", child)
			start := time.Now()
			for v.hasVIP("r1") {
				require.Less(t, time.Since(start), 5*time.Second, "the respawned child must drop the VIP at startup")
				time.Sleep(20 * time.Millisecond)
			}
			v.waitHolders(15*time.Second, "r1")
			select {
			case <-parent.Done():
				t.Fatal("the parent exited after its child was killed")
			default:
			}
			logs, err := os.ReadFile(filepath.Join(n.LogDir(), string(i)+".log"))
			require.NoError(t, err)
			require.Contains(t, string(logs), fmt.Sprintf("VRRP child process(%d) died: Respawning", child))

			// SIGKILL of the parent: the child says goodbye (priority 0).
			require.NoError(t, parent.Signal(syscall.SIGKILL))
			took := v.waitHolders(5*time.Second, "r2")
			t.Logf("%s: r2 took over %v after SIGKILL of r1's parent process", i, took)
			require.Less(t, took, 2500*time.Millisecond, "priority 0 must beat Master_Down_Interval (3.6 s)")
			for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
				_, errPid := n.Run(v.ctx, "test", "-e", i.vrrpPidFile())
				_, errProc := n.Run(v.ctx, "kill", "-0", strconv.Itoa(respawned))
				if errPid != nil && errProc != nil {
					break
				}
				require.Less(t, time.Since(start), 5*time.Second, "the VRRP child must exit and remove its pid file")
			}
			v.stable(time.Second, "r2")
		})
	}
}

// waitChild waits for the -r pid file of the node's daemon to name a live
// process other than old, and returns its node PID.
func (v *vrrpLab) waitChild(node string, old int) int {
	v.t.Helper()
	start := time.Now()
	for {
		pid, err := v.vrrpChild(node)
		if err == nil && pid != old {
			if _, err := v.l.MustNode(node).Run(v.ctx, "kill", "-0", strconv.Itoa(pid)); err == nil {
				return pid
			}
		}
		if time.Since(start) > 10*time.Second {
			v.dumpLogs()
			v.t.Fatalf("no live VRRP child on %s other than %d: %v", node, old, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
