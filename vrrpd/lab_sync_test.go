package vrrpd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/lab"
)

// The directors of the active/active topology (topologies/active-active.yaml)
// with a client on the edge LAN and a proxy on the front LAN.
const directorsTopo = `
name: %s
lans:
  - name: edge
  - name: front
nodes:
  - name: client
    role: client
    interfaces:
      - {name: eth0, lan: edge, addresses: [10.0.0.10/24]}
  - name: lvs01
    role: director
    interfaces:
      - {name: eth0, lan: edge, addresses: [10.0.0.2/24]}
      - {name: eth1, lan: front, addresses: [10.0.1.2/24]}
  - name: lvs02
    role: director
    interfaces:
      - {name: eth0, lan: edge, addresses: [10.0.0.3/24]}
      - {name: eth1, lan: front, addresses: [10.0.1.3/24]}
  - name: nginx01
    role: proxy
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.11/24]}
`

const (
	serviceVIP = "10.0.0.100"
	gatewayVIP = "10.0.1.1"
)

// directorsLab is a running directors topology.
type directorsLab struct {
	t      testing.TB
	l      *lab.Lab
	ctx    context.Context
	shared string
	procs  map[string]*lab.Process
	impls  map[string]impl
}

func newDirectorsLab(t testing.TB, name string) *directorsLab {
	t.Helper()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	topo, err := lab.ParseTopology(name+".yaml", []byte(fmt.Sprintf(directorsTopo, name)))
	require.NoError(t, err)
	l, err := lab.Up(ctx, topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	d := &directorsLab{t: t, l: l, ctx: ctx, shared: l.SharedDir(), procs: map[string]*lab.Process{}, impls: map[string]impl{}}
	// The notify script appends "<node> <args>" to notify.log.
	script := fmt.Sprintf("#!/bin/sh\necho \"$(hostname) $*\" >> %s/notify.log\n", d.shared)
	require.NoError(t, os.WriteFile(filepath.Join(d.shared, "note.sh"), []byte(script), 0o755))
	return d
}

func (d *directorsLab) start(node string, i impl, conf string) {
	d.t.Helper()
	path := filepath.Join(d.shared, node+".conf")
	require.NoError(d.t, os.WriteFile(path, []byte(conf), 0o644))
	p, err := d.l.MustNode(node).Start(d.ctx, lab.ProcSpec{Name: string(i), Args: i.args(path)})
	require.NoError(d.t, err)
	d.procs[node], d.impls[node] = p, i
}

func (d *directorsLab) stopAll() {
	for node, p := range d.procs {
		_ = p.Stop(d.ctx)
		n := d.l.MustNode(node)
		_, _ = n.Run(d.ctx, "ip", "link", "set", "eth1", "up")
		_, _ = n.Run(d.ctx, "ip", "addr", "del", serviceVIP+"/24", "dev", "eth0")
		_, _ = n.Run(d.ctx, "ip", "addr", "del", gatewayVIP+"/24", "dev", "eth1")
	}
	d.procs = map[string]*lab.Process{}
	_ = os.Remove(filepath.Join(d.shared, "notify.log"))
}

// vips lists, per director, which of the two VIPs it holds, e.g.
// "lvs01=10.0.0.100+10.0.1.1 lvs02=".
func (d *directorsLab) vips() string {
	var parts []string
	for _, n := range []string{"lvs01", "lvs02"} {
		out, err := d.l.MustNode(n).Run(d.ctx, "ip", "-4", "-o", "addr", "show")
		require.NoError(d.t, err, out)
		var held []string
		for _, v := range []string{serviceVIP, gatewayVIP} {
			if strings.Contains(out, " "+v+"/") {
				held = append(held, v)
			}
		}
		parts = append(parts, n+"="+strings.Join(held, "+"))
	}
	return strings.Join(parts, " ")
}

func (d *directorsLab) waitVIPs(timeout time.Duration, want string) time.Duration {
	d.t.Helper()
	start := time.Now()
	got := ""
	for time.Since(start) < timeout {
		if got = d.vips(); got == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.dumpLogs()
	d.t.Fatalf("VIPs %q after %v, want %q", got, timeout, want)
	return 0
}

func (d *directorsLab) dumpLogs() {
	for n, i := range d.impls {
		data, _ := os.ReadFile(filepath.Join(d.l.MustNode(n).LogDir(), string(i)+".log"))
		lines := strings.Split(string(data), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		d.t.Logf("--- %s (%s) log tail:\n%s", n, i, strings.Join(lines, "\n"))
	}
}

func (d *directorsLab) link(node, ifname, updown string) {
	d.t.Helper()
	out, err := d.l.MustNode(node).Run(d.ctx, "ip", "link", "set", ifname, updown)
	require.NoError(d.t, err, out)
}

// notes returns the notify lines of one node, sorted (scripts run
// concurrently, so their order is not fixed).
func (d *directorsLab) notes(node string) []string {
	data, _ := os.ReadFile(filepath.Join(d.shared, "notify.log"))
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, node+" "); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// waitNotes waits until node's notify lines are want (sorted).
func (d *directorsLab) waitNotes(node string, want []string) {
	d.t.Helper()
	sort.Strings(want)
	var got []string
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(100 * time.Millisecond) {
		if got = d.notes(node); strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
	}
	d.dumpLogs()
	d.t.Fatalf("notify lines of %s: got %q, want %q", node, got, want)
}

func syncGroupConf(node string, prio int, state, shared string) string {
	note := shared + "/note.sh"
	return fmt.Sprintf(`global_defs {
  router_id %[1]s
}
vrrp_sync_group VG_LVS {
  group {
    VI_EDGE
    VI_FRONT
  }
  notify_master "%[4]s group-master"
  notify_backup "%[4]s group-backup"
  notify_fault "%[4]s group-fault"
}
vrrp_instance VI_EDGE {
  state %[3]s
  interface eth0
  virtual_router_id 51
  priority %[2]d
  advert_int 1
  virtual_ipaddress {
    %[5]s/24
  }
  notify_master "%[4]s edge-master"
}
vrrp_instance VI_FRONT {
  state %[3]s
  interface eth1
  virtual_router_id 52
  priority %[2]d
  advert_int 1
  virtual_ipaddress {
    %[6]s/24
  }
}
`, node, prio, state, note, serviceVIP, gatewayVIP)
}

func trackInterfaceConf(node string, prio int, state, shared string) string {
	return fmt.Sprintf(`global_defs {
  router_id %[1]s
}
vrrp_instance VI_EDGE {
  state %[3]s
  interface eth0
  track_interface {
    eth1
  }
  virtual_router_id 51
  priority %[2]d
  advert_int 1
  virtual_ipaddress {
    %[5]s/24
  }
  notify_master "%[4]s/note.sh master"
  notify_fault "%[4]s/note.sh fault"
}
`, node, prio, state, shared, serviceVIP)
}

// TestLabTrackInterface: the master's tracked eth1 goes down: it enters
// FAULT with a priority 0 advert and the VIP moves before
// Master_Down_Interval; with the link back, it preempts again.
func TestLabTrackInterface(t *testing.T) {
	t.Parallel()
	d := newDirectorsLab(t, "vr6")
	for _, i := range []impl{implVrrpd, implKeepalived} {
		t.Run(string(i), func(t *testing.T) {
			d.t = t
			defer d.stopAll()
			d.start("lvs01", i, trackInterfaceConf("lvs01", 150, "MASTER", d.shared))
			d.start("lvs02", i, trackInterfaceConf("lvs02", 100, "BACKUP", d.shared))
			d.waitVIPs(15*time.Second, "lvs01="+serviceVIP+" lvs02=")
			d.waitNotes("lvs01", []string{"master"})
			d.link("lvs01", "eth1", "down")
			took := d.waitVIPs(15*time.Second, "lvs01= lvs02="+serviceVIP)
			t.Logf("%s: tracked eth1 down -> VIP on lvs02 in %v", i, took)
			require.Less(t, took, 3*time.Second, "FAULT must send priority 0")
			d.waitNotes("lvs01", []string{"master", "fault"})
			d.waitNotes("lvs02", []string{"master"})
			if i == implVrrpd {
				out, err := d.l.MustNode("lvs01").Run(d.ctx, "cat", "/run/vrrpd/status.json")
				require.NoError(t, err, out)
				require.Contains(t, out, `"state": "FAULT"`)
			}
			d.link("lvs01", "eth1", "up")
			d.waitVIPs(20*time.Second, "lvs01="+serviceVIP+" lvs02=")
		})
	}
}

// TestLabSyncGroup runs the active/active directors with both VIPs in one
// vrrp_sync_group: eth1 going down on the master puts the whole group in
// FAULT, so BOTH VIPs move to the backup, and come back with the link.
// keepalived runs the same configs for comparison, notify lines included.
func TestLabSyncGroup(t *testing.T) {
	t.Parallel()
	d := newDirectorsLab(t, "vr5")
	for _, i := range []impl{implVrrpd, implKeepalived} {
		t.Run(string(i), func(t *testing.T) {
			d.t = t
			defer d.stopAll()
			d.start("lvs01", i, syncGroupConf("lvs01", 150, "MASTER", d.shared))
			d.start("lvs02", i, syncGroupConf("lvs02", 100, "BACKUP", d.shared))
			both := serviceVIP + "+" + gatewayVIP
			d.waitVIPs(15*time.Second, "lvs01="+both+" lvs02=")
			d.waitNotes("lvs01", []string{"group-backup", "group-master", "edge-master"})
			d.waitNotes("lvs02", []string{"group-backup"})

			d.link("lvs01", "eth1", "down")
			took := d.waitVIPs(15*time.Second, "lvs01= lvs02="+both)
			t.Logf("%s: eth1 down on lvs01 -> both VIPs on lvs02 in %v", i, took)
			d.waitNotes("lvs01", []string{"group-backup", "group-master", "edge-master", "group-fault"})
			d.waitNotes("lvs02", []string{"group-backup", "group-master", "edge-master"})

			d.link("lvs01", "eth1", "up")
			d.waitVIPs(20*time.Second, "lvs01="+both+" lvs02=")
			d.waitNotes("lvs01", []string{"group-backup", "group-master", "edge-master", "group-fault", "group-backup", "group-master", "edge-master"})
			d.waitNotes("lvs02", []string{"group-backup", "group-master", "edge-master", "group-backup"})
		})
	}
}
