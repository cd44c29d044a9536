package vrrpd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/require"

	"halab/lab"
)

// Lab tests run two routers on one LAN with vrrpd and Debian's keepalived
// in every pairing. They need root and take a few minutes; -short skips them.

const (
	labVIP      = "10.0.1.100"
	keepalivedB = "/usr/sbin/keepalived"
)

const twoRouters = `
name: %s
lans:
  - name: lan
nodes:
  - name: r1
    role: director
    interfaces:
      - name: eth0
        lan: lan
        addresses: [10.0.1.11/24]
  - name: r2
    role: director
    interfaces:
      - name: eth0
        lan: lan
        addresses: [10.0.1.12/24]
  - name: obs
    role: client
    interfaces:
      - name: eth0
        lan: lan
        addresses: [10.0.1.13/24]
`

// impl is a VRRP daemon implementation under test.
type impl string

const (
	implVrrpd      impl = "vrrpd"
	implKeepalived impl = "keepalived"
)

func (i impl) args(conf string) []string {
	if i == implKeepalived {
		return []string{keepalivedB, "-n", "-l", "-D", "-f", conf, "--vrrp",
			"-p", "/run/keepalived.pid", "-r", "/run/keepalived_vrrp.pid", "-c", "/run/keepalived_checkers.pid"}
	}
	return []string{filepath.Join(binDir, "vrrpd"), "-n", "-l", "-D", "-f", conf, "-p", "/run/vrrpd.pid", "-r", "/run/vrrpd_vrrp.pid",
		"--status-file", "/run/vrrpd/status.json"}
}

// vrrpPidFile is the -r pid file of the implementation's VRRP child.
func (i impl) vrrpPidFile() string {
	if i == implKeepalived {
		return "/run/keepalived_vrrp.pid"
	}
	return "/run/vrrpd_vrrp.pid"
}

// routerConf describes one router's keepalived.conf.
type routerConf struct {
	node       string
	version    int
	state      string
	priority   int
	advertInt  string
	authPass   string // v2 only; "" for none
	unicastSrc string
	peers      []string
	checkFile  string // tracked script tests for this file (weight 10)
	global     string // extra global_defs lines
}

func (c routerConf) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n  vrrp_version %d\n%s}\n", c.node, c.version, c.global)
	if c.checkFile != "" {
		fmt.Fprintf(&b, "vrrp_script chk_nginx {\n  script \"/bin/test -e %s\"\n  interval 1\n  weight 10\n}\n", c.checkFile)
	}
	fmt.Fprintf(&b, "vrrp_instance lb_nginx {\n  interface eth0\n  state %s\n  virtual_router_id 111\n  priority %d\n  advert_int %s\n",
		c.state, c.priority, c.advertInt)
	if c.authPass != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", c.authPass)
	}
	if c.checkFile != "" {
		b.WriteString("  track_script {\n    chk_nginx\n  }\n")
	}
	if c.unicastSrc != "" {
		fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n", c.unicastSrc)
		for _, p := range c.peers {
			fmt.Fprintf(&b, "    %s\n", p)
		}
		b.WriteString("  }\n")
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s/24 dev eth0 label eth0:vip\n  }\n}\n", labVIP)
	return b.String()
}

// vrrpLab is a running two-router lab.
type vrrpLab struct {
	t      testing.TB
	l      *lab.Lab
	ctx    context.Context
	procs  map[string]*lab.Process
	impls  map[string]impl
	confs  map[string]routerConf
	shared string
}

func requireLab(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test skipped in -short mode")
	}
	if os.Geteuid() != 0 || binDir == "" {
		t.Skip("lab tests need root")
	}
	if _, err := os.Stat(keepalivedB); err != nil {
		t.Skip("keepalived is not installed")
	}
}

func newVRRPLab(t testing.TB, name string) *vrrpLab {
	t.Helper()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	topo, err := lab.ParseTopology(name+".yaml", []byte(fmt.Sprintf(twoRouters, name)))
	require.NoError(t, err)
	l, err := lab.Up(ctx, topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	return &vrrpLab{t: t, l: l, ctx: ctx, procs: map[string]*lab.Process{}, impls: map[string]impl{},
		confs: map[string]routerConf{}, shared: l.SharedDir()}
}

// start writes the router's config and starts its daemon.
func (v *vrrpLab) start(i impl, c routerConf) {
	v.t.Helper()
	conf := filepath.Join(v.shared, c.node+".conf")
	require.NoError(v.t, os.WriteFile(conf, []byte(c.render()), 0o644))
	p, err := v.l.MustNode(c.node).Start(v.ctx, lab.ProcSpec{Name: string(i), Args: i.args(conf)})
	require.NoError(v.t, err)
	v.procs[c.node], v.impls[c.node], v.confs[c.node] = p, i, c
}

// restart starts the node's daemon again with its last config.
func (v *vrrpLab) restart(node string) { v.start(v.impls[node], v.confs[node]) }

// kill signals the node's daemon and waits for it to exit. SIGKILL means
// a crash of the whole daemon (see crash).
func (v *vrrpLab) kill(node string, sig syscall.Signal) {
	v.t.Helper()
	p := v.procs[node]
	if sig == syscall.SIGKILL {
		v.crash(node)
	} else {
		require.NoError(v.t, p.Signal(sig))
	}
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		v.t.Fatalf("%s did not exit after %v", node, sig)
	}
	if sig == syscall.SIGKILL {
		// keepalived forks a VRRP child; make sure none survives.
		_, _ = v.l.MustNode(node).Run(v.ctx, "pkill", "-KILL", "-x", "keepalived")
	}
	// A moment for keepalived's children to finish their own cleanup.
	time.Sleep(200 * time.Millisecond)
}

// crash kills the node's daemon, both processes, with no goodbye. The
// VRRP child gets SIGTERM when its parent dies and would stop gracefully,
// and the parent respawns a dead child, so: stop the parent, SIGKILL the
// child (pid from its -r file), then SIGKILL the parent.
func (v *vrrpLab) crash(node string) {
	v.t.Helper()
	p := v.procs[node]
	child, err := v.vrrpChild(node)
	require.NoError(v.t, err)
	require.NoError(v.t, p.Signal(syscall.SIGSTOP))
	out, err := v.l.MustNode(node).Run(v.ctx, "kill", "-KILL", strconv.Itoa(child))
	require.NoError(v.t, err, out)
	require.NoError(v.t, p.Signal(syscall.SIGKILL))
}

// vrrpChild reads the node PID of the daemon's VRRP child from its -r file.
func (v *vrrpLab) vrrpChild(node string) (int, error) {
	out, err := v.l.MustNode(node).Run(v.ctx, "cat", v.impls[node].vrrpPidFile())
	if err != nil {
		return 0, fmt.Errorf("VRRP child pid file: %w: %s", err, out)
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

func (v *vrrpLab) stopAll() {
	for node, p := range v.procs {
		_ = p.Stop(v.ctx)
		_, _ = v.l.MustNode(node).Run(v.ctx, "ip", "addr", "del", labVIP+"/24", "dev", "eth0")
	}
	v.procs = map[string]*lab.Process{}
}

// hasVIP reports whether the node holds the virtual address.
func (v *vrrpLab) hasVIP(node string) bool {
	out, err := v.l.MustNode(node).Run(v.ctx, "ip", "-4", "addr", "show", "dev", "eth0")
	require.NoError(v.t, err, out)
	return strings.Contains(out, " "+labVIP+"/")
}

// holders returns the routers holding the VIP.
func (v *vrrpLab) holders() []string {
	var out []string
	for _, n := range []string{"r1", "r2"} {
		if v.hasVIP(n) {
			out = append(out, n)
		}
	}
	return out
}

// waitHolders waits until exactly the given routers hold the VIP and
// returns how long that took.
func (v *vrrpLab) waitHolders(timeout time.Duration, want ...string) time.Duration {
	v.t.Helper()
	start := time.Now()
	var got []string
	for time.Since(start) < timeout {
		got = v.holders()
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.dumpLogs()
	v.t.Fatalf("VIP holders %v after %v, want %v", got, timeout, want)
	return 0
}

// stable checks the holders stay as they are for d.
func (v *vrrpLab) stable(d time.Duration, want ...string) {
	v.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if got := v.holders(); strings.Join(got, ",") != strings.Join(want, ",") {
			v.dumpLogs()
			v.t.Fatalf("VIP holders changed to %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (v *vrrpLab) dumpLogs() {
	for _, n := range []string{"r1", "r2"} {
		i, ok := v.impls[n]
		if !ok {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(v.l.MustNode(n).LogDir(), string(i)+".log"))
		lines := strings.Split(string(data), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		v.t.Logf("--- %s (%s) log tail:\n%s", n, i, strings.Join(lines, "\n"))
	}
}

// vrrpdStatus reads the status file of vrrpd on a node.
func (v *vrrpLab) vrrpdStatus(node string) *Status {
	v.t.Helper()
	out, err := v.l.MustNode(node).Run(v.ctx, "cat", "/run/vrrpd/status.json")
	require.NoError(v.t, err, out)
	path := filepath.Join(v.t.TempDir(), "status.json")
	require.NoError(v.t, os.WriteFile(path, []byte(out), 0o644))
	s, err := ReadStatus(path)
	require.NoError(v.t, err)
	return s
}

func (v *vrrpLab) setCheck(node string, ok bool) {
	v.t.Helper()
	f := filepath.Join(v.shared, "nginx-"+node)
	if ok {
		require.NoError(v.t, os.WriteFile(f, nil, 0o644))
	} else {
		require.NoError(v.t, os.Remove(f))
	}
}

// articlePair returns the article's master (85+10) and backup (80+10).
func (v *vrrpLab) articlePair(version int, advert string) (routerConf, routerConf) {
	auth := ""
	if version == 2 {
		auth = "Security"
	}
	r1 := routerConf{node: "r1", version: version, state: "MASTER", priority: 85, advertInt: advert, authPass: auth,
		checkFile: filepath.Join(v.shared, "nginx-r1")}
	r2 := routerConf{node: "r2", version: version, state: "BACKUP", priority: 80, advertInt: advert, authPass: auth,
		checkFile: filepath.Join(v.shared, "nginx-r2")}
	return r1, r2
}

// failoverScenario runs the fault list against a started pair whose
// master is r1: tracked script failure and preemption back, SIGTERM
// (priority 0), SIGKILL.
func (v *vrrpLab) failoverScenario(downInterval time.Duration) {
	t := v.t
	v.waitHolders(15*time.Second, "r1")
	v.stable(2*time.Second, "r1")

	// nginx dies on r1: 85 < 90, r2 takes over; nginx returns: r1 preempts.
	v.setCheck("r1", false)
	v.waitHolders(15*time.Second, "r2")
	v.setCheck("r1", true)
	v.waitHolders(15*time.Second, "r1")

	// SIGTERM: priority 0 lets r2 take over after Skew_Time, well before
	// Master_Down_Interval.
	v.kill("r1", syscall.SIGTERM)
	took := v.waitHolders(15*time.Second, "r2")
	t.Logf("SIGTERM takeover in %v (Master_Down_Interval %v)", took, downInterval)
	require.Less(t, took, downInterval, "priority 0 advert must beat Master_Down_Interval")
	v.restart("r1")
	v.waitHolders(20*time.Second, "r1")

	// A crash (SIGKILL of both processes): no goodbye; r2 takes over after
	// Master_Down_Interval. The dead daemon's VIP stays on r1, as with
	// keepalived.
	v.kill("r1", syscall.SIGKILL)
	start := time.Now()
	for !v.hasVIP("r2") {
		require.Less(t, time.Since(start), 15*time.Second, "r2 did not take over after SIGKILL")
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("SIGKILL takeover in %v", time.Since(start))
	v.restart("r1") // removes the stale VIP at startup, then preempts
	v.waitHolders(20*time.Second, "r1")
}

func TestLabInterop(t *testing.T) {
	t.Parallel()
	requireLab(t)
	pairs := [][2]impl{{implVrrpd, implVrrpd}, {implVrrpd, implKeepalived}, {implKeepalived, implVrrpd}}
	for _, version := range []int{2, 3} {
		for k, pair := range pairs {
			t.Run(fmt.Sprintf("v%d/%s+%s", version, pair[0], pair[1]), func(t *testing.T) {
				// Each pairing has its own lab, so they run side by side.
				t.Parallel()
				v := newVRRPLab(t, fmt.Sprintf("vr1-%d%d", version, k))
				v.setCheck("r1", true)
				v.setCheck("r2", true)
				defer v.stopAll()
				r1, r2 := v.articlePair(version, "1")
				v.start(pair[0], r1)
				v.start(pair[1], r2)
				v.failoverScenario(3 * time.Second)
				for i, n := range []string{"r1", "r2"} {
					if pair[i] == implVrrpd {
						s := v.vrrpdStatus(n)
						require.Len(t, s.Instances, 1)
						in := s.Instances[0]
						require.Zero(t, in.Counters.Dropped, "drops: %v", in.Drops)
						require.Equal(t, map[string]int{"r1": 85, "r2": 80}[n], in.ConfiguredPriority)
						require.Equal(t, map[string]int{"r1": 95, "r2": 90}[n], in.EffectivePriority)
					}
				}
			})
		}
	}
}

// TestLabAuthMismatch: with different passwords each side drops the other's
// adverts, so both become master, exactly as two keepalived would.
func TestLabAuthMismatch(t *testing.T) {
	t.Parallel()
	v := newVRRPLab(t, "vr2")
	defer v.stopAll()
	r1 := routerConf{node: "r1", version: 2, state: "MASTER", priority: 100, advertInt: "1", authPass: "Security"}
	r2 := routerConf{node: "r2", version: 2, state: "BACKUP", priority: 90, advertInt: "1", authPass: "Other"}
	v.start(implKeepalived, r1)
	v.start(implVrrpd, r2)
	v.waitHolders(15*time.Second, "r1", "r2")
	v.stable(2*time.Second, "r1", "r2")
	s := v.vrrpdStatus("r2")
	require.Equal(t, "MASTER", s.Instances[0].State)
	require.Positive(t, s.Instances[0].Drops["auth"], "auth drops must be counted")
}

// TestLabUnicast runs unicast_peer mode in both versions and pairings.
func TestLabUnicast(t *testing.T) {
	t.Parallel()
	v := newVRRPLab(t, "vr3")
	for _, tc := range []struct {
		version int
		pair    [2]impl
	}{{2, [2]impl{implKeepalived, implVrrpd}}, {3, [2]impl{implVrrpd, implKeepalived}}} {
		t.Run(fmt.Sprintf("v%d/%s+%s", tc.version, tc.pair[0], tc.pair[1]), func(t *testing.T) {
			v.t = t
			defer v.stopAll()
			r1 := routerConf{node: "r1", version: tc.version, state: "MASTER", priority: 100, advertInt: "1",
				unicastSrc: "10.0.1.11", peers: []string{"10.0.1.12"}}
			r2 := routerConf{node: "r2", version: tc.version, state: "BACKUP", priority: 90, advertInt: "1",
				unicastSrc: "10.0.1.12", peers: []string{"10.0.1.11"}}
			v.start(tc.pair[0], r1)
			v.start(tc.pair[1], r2)
			v.waitHolders(15*time.Second, "r1")
			v.stable(2*time.Second, "r1")
			v.kill("r1", syscall.SIGTERM)
			v.waitHolders(15*time.Second, "r2")
			v.restart("r1")
			v.waitHolders(20*time.Second, "r1")
			for i, n := range []string{"r1", "r2"} {
				if tc.pair[i] == implVrrpd {
					in := v.vrrpdStatus(n).Instances[0]
					require.Zero(t, in.Counters.Dropped, "drops: %v", in.Drops)
					require.Positive(t, in.Counters.AdvertsReceived)
				}
			}
		})
	}
}

// TestLabCapturedAdvertsDecode listens on a third node and checks that every
// advert of vrrpd and keepalived, v2 and v3, passes our decoder and
// gopacket's VRRP layer.
func TestLabCapturedAdvertsDecode(t *testing.T) {
	t.Parallel()
	v := newVRRPLab(t, "vr4")
	obs := v.l.MustNode("obs")
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			v.t = t
			defer v.stopAll()
			r1, r2 := v.articlePair(version, "1")
			if version == 3 {
				r1.advertInt, r2.advertInt = "0.1", "0.1"
			}
			r1.checkFile, r2.checkFile = "", ""
			r1.priority, r2.priority = 120, 110
			var conn *Conn
			require.NoError(t, obs.Do(func() error {
				var err error
				conn, err = OpenConn(v.ctx, "eth0", DefaultMcastGroup4, false)
				return err
			}))
			defer conn.Close()
			// keepalived as master first, then vrrpd after keepalived stops.
			v.start(implKeepalived, r1)
			v.start(implVrrpd, r2)
			v.waitHolders(15*time.Second, "r1")
			v.kill("r1", syscall.SIGTERM)
			v.waitHolders(15*time.Second, "r2")
			time.Sleep(2 * time.Second)
			want := Expect{Version: version, VRID: 111, CheckTTL: true, MinTTL: -1, MaxTTL: -1,
				Addrs: []netip.Addr{netip.MustParseAddr(labVIP)}}
			if version == 2 {
				want.AuthType, want.AuthData, want.Interval = AuthSimpleText, AuthBytes("Security"), time.Second
			}
			seen := map[string]int{}
			done := make(chan struct{})
			go func() {
				time.Sleep(time.Second)
				conn.Close()
				close(done)
			}()
			buf := make([]byte, 2048)
			for {
				p, err := conn.Read(buf)
				if err != nil {
					break
				}
				a, drop := Decode(p.Payload, p.Rx, want)
				require.Equal(t, DropNone, drop, "advert from %v: %x", p.Rx.Src, p.Payload)
				seen[p.Rx.Src.String()]++
				pkt := gopacket.NewPacket(p.Payload, layers.LayerTypeVRRP, gopacket.Default)
				require.Nil(t, pkt.ErrorLayer())
				l := pkt.Layer(layers.LayerTypeVRRP).(*layers.VRRPv2)
				require.Equal(t, uint8(version), l.Version)
				require.Equal(t, a.Priority, l.Priority)
			}
			<-done
			require.Positive(t, seen["10.0.1.11"], "keepalived adverts seen: %v", seen)
			require.Positive(t, seen["10.0.1.12"], "vrrpd adverts seen: %v", seen)
		})
	}
}
