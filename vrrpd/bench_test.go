package vrrpd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"halab/lab"
)

// buildLabapp returns labapp, built with vrrpd by TestMain.
func buildLabapp(b *testing.B) string {
	if binDir == "" {
		b.Skip("lab benchmarks need root")
	}
	return filepath.Join(binDir, "labapp")
}

// fault is a way to take the master down.
type fault string

const (
	faultKill    fault = "sigkill"      // SIGKILL of the master daemon (child and parent)
	faultTracked fault = "nginx-killed" // the tracked process dies
	faultTerm    fault = "sigterm"      // graceful stop: priority 0
)

// BenchmarkFailover measures, for vrrpd and keepalived with identical
// configs (both routers run the same implementation), the time from a fault
// on the master to the VIP present on the backup (failover-ms) and to the
// first HTTP answer from the new master through the VIP, seen by a client
// on the LAN (http-ms). Faults: a crash of the daemon (SIGKILL of the VRRP
// child, then of its stopped parent), the tracked process (a sleep called
// nginx, checked by "killall -0 nginx") killed, SIGTERM. master-rss-MB is
// the master's VRRP child, parent-rss-MB its parent process, for both
// implementations. Both routers serve labapp on :80. Each case is bounded (20 s per fault);
// the tracked-process case averages three faults. Run with -benchtime 1x.
func BenchmarkFailover(b *testing.B) {
	for _, mode := range []struct {
		name    string
		version int
		advert  string
	}{{"v2-advert1s", 2, "1"}, {"v3-advert50ms", 3, "0.05"}} {
		for _, f := range []fault{faultKill, faultTracked, faultTerm} {
			for _, i := range []impl{implVrrpd, implKeepalived} {
				b.Run(mode.name+"/"+string(f)+"/"+string(i), func(b *testing.B) {
					benchFailover(b, i, f, mode.version, mode.advert)
				})
			}
		}
	}
}

func benchFailover(b *testing.B, i impl, f fault, version int, advert string) {
	v := newVRRPLab(b, "vrb")
	app := buildLabapp(b)
	defer v.stopAll()
	nginx := filepath.Join(v.shared, "nginx")
	require.NoError(b, os.Symlink("/bin/sleep", nginx))
	h, err := v.l.MustNode("r2").Handle()
	require.NoError(b, err)
	defer h.Close()
	link, err := h.LinkByName("eth0")
	require.NoError(b, err)
	vip := net.ParseIP(labVIP)
	r2Has := func() bool {
		addrs, err := h.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return false
		}
		for _, a := range addrs {
			if a.IP.Equal(vip) {
				return true
			}
		}
		return false
	}
	for _, n := range []string{"r1", "r2"} {
		_, err := v.l.MustNode(n).Start(v.ctx, lab.ProcSpec{Name: "labapp", Args: []string{app, "-listen", ":80"}})
		require.NoError(b, err)
	}
	// The article's pair: 85+10 and 80+10, tracking "nginx".
	global := "  vrrp_garp_master_delay 5\n"
	r1 := routerConf{node: "r1", version: version, state: "MASTER", priority: 85, advertInt: advert, global: global}
	r2 := routerConf{node: "r2", version: version, state: "BACKUP", priority: 80, advertInt: advert, global: global}
	var totalVIP, totalHTTP time.Duration
	var rss, parentRSS int
	// The tracked script runs every second, so a kill lands anywhere in
	// its period: average three kills per iteration for a fairer figure.
	runs := b.N
	if f == faultTracked {
		runs = 3 * b.N
	}
	b.ResetTimer()
	for n := 0; n < runs; n++ {
		b.StopTimer()
		procs := map[string]*lab.Process{}
		for _, node := range []string{"r1", "r2"} {
			p, err := v.l.MustNode(node).Start(v.ctx, lab.ProcSpec{Name: "nginx", Args: []string{nginx, "3600"}})
			require.NoError(b, err)
			procs[node] = p
		}
		v.startTracking(i, r1)
		v.startTracking(i, r2)
		v.waitHolders(20*time.Second, "r1")
		// The client talks to r1 through the VIP: its ARP cache points there.
		// It may still name r2, the previous run's last holder; the
		// gratuitous ARPs of r1's start can come before the entry is
		// replaced, so the client forgets it and asks afresh.
		forgetNeighbour(b, v, "obs", vip)
		_, err := httpFrom(v, "r1", 5*time.Second)
		require.NoError(b, err, "HTTP through the VIP before the fault")
		time.Sleep(time.Second) // settle: r2 has seen adverts, scripts ran
		if f == faultTracked {
			// Spread the kills over the script's period (0, 1/3, 2/3 s).
			time.Sleep(time.Duration(n%3) * time.Second / 3)
		}
		parent := v.procs["r1"]
		childNS, err := v.vrrpChild("r1")
		require.NoError(b, err)
		child := hostPIDOf(parent.PID(), childNS)
		require.NotZero(b, child, "VRRP child %d of %s not found", childNS, i)
		rss = max(rss, rssKB(child))
		parentRSS = max(parentRSS, rssKB(parent.PID()))
		if f == faultKill {
			// A crash of the daemon (see vrrpLab.crash): the parent is
			// stopped so that it neither respawns the child nor, by dying,
			// makes the child say goodbye.
			require.NoError(b, parent.Signal(syscall.SIGSTOP))
		}
		b.StartTimer()
		start := time.Now()
		switch f {
		case faultKill:
			require.NoError(b, syscall.Kill(child, syscall.SIGKILL))
			require.NoError(b, parent.Signal(syscall.SIGKILL))
		case faultTracked:
			require.NoError(b, procs["r1"].Signal(syscall.SIGKILL))
		case faultTerm:
			require.NoError(b, v.procs["r1"].Signal(syscall.SIGTERM))
		}
		vipDone := make(chan time.Duration, 1)
		go func() {
			for !r2Has() {
				if time.Since(start) > 20*time.Second {
					vipDone <- 0
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			vipDone <- time.Since(start)
		}()
		httpTook, err := httpFrom(v, "r2", 20*time.Second)
		vipTook := <-vipDone
		b.StopTimer()
		require.NoError(b, err, "no HTTP answer from r2 through the VIP")
		require.NotZero(b, vipTook, "no failover within 20s")
		totalVIP += vipTook
		totalHTTP += httpTook
		b.Logf("%s %s v%d advert %s: VIP in %v, HTTP in %v", i, f, version, advert, vipTook, httpTook)
		if f == faultKill && i == implKeepalived {
			_, _ = v.l.MustNode("r1").Run(v.ctx, "pkill", "-KILL", "-x", "keepalived")
		}
		v.stopAll()
		for _, p := range procs {
			_ = p.Stop(v.ctx)
		}
	}
	b.ReportMetric(float64(totalVIP.Microseconds())/1000/float64(runs), "failover-ms")
	b.ReportMetric(float64(totalHTTP.Microseconds())/1000/float64(runs), "http-ms")
	b.ReportMetric(float64(rss)/1024, "master-rss-MB")
	b.ReportMetric(float64(parentRSS)/1024, "parent-rss-MB")
}

// startTracking starts a router with the article's vrrp_script
// "killall -0 nginx" (weight 10) instead of the file check.
func (v *vrrpLab) startTracking(i impl, c routerConf) {
	v.t.Helper()
	conf := strings.Replace(c.render(), "vrrp_instance", "vrrp_script chk_nginx {\n  script \"/usr/bin/killall -0 nginx\"\n  interval 1\n  weight 10\n}\nvrrp_instance", 1)
	conf = strings.Replace(conf, "  virtual_ipaddress {", "  track_script {\n    chk_nginx\n  }\n  virtual_ipaddress {", 1)
	path := filepath.Join(v.shared, c.node+".conf")
	require.NoError(v.t, os.WriteFile(path, []byte(conf), 0o644))
	p, err := v.l.MustNode(c.node).Start(v.ctx, lab.ProcSpec{Name: string(i), Args: i.args(path)})
	require.NoError(v.t, err)
	v.procs[c.node], v.impls[c.node], v.confs[c.node] = p, i, c
}

// httpFrom sends HTTP requests to the VIP from the obs node in a tight
// loop (50 ms connect timeout) until one is answered by node, and returns how
// long that took.
func httpFrom(v *vrrpLab, node string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	var took time.Duration
	err := v.l.MustNode("obs").Do(func() error {
		var last error
		for time.Since(start) < limit {
			ok, err := httpOnce(labVIP+":80", node)
			if ok {
				took = time.Since(start)
				return nil
			}
			last = err
		}
		return last
	})
	if err == nil && took == 0 {
		err = context.DeadlineExceeded
	}
	return took, err
}

// forgetNeighbour deletes node's neighbour entry for ip, if it has one.
func forgetNeighbour(b *testing.B, v *vrrpLab, node string, ip net.IP) {
	b.Helper()
	h, err := v.l.MustNode(node).Handle()
	require.NoError(b, err)
	defer h.Close()
	neighs, err := h.NeighList(0, netlink.FAMILY_V4)
	require.NoError(b, err)
	for _, n := range neighs {
		if n.IP.Equal(ip) {
			require.NoError(b, h.NeighDel(&n))
		}
	}
}

// httpOnce reports whether one GET / through addr was answered by node
// (labapp names its host in the answer).
func httpOnce(addr, node string) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\nHost: vip\r\n\r\n")); err != nil {
		return false, err
	}
	var body strings.Builder
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		return false, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return strings.Contains(body.String(), node), nil
}

// hostPIDOf returns the host PID of the child of host process parent whose
// PID in its node is nodePID, or 0.
func hostPIDOf(parent, nodePID int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", parent))
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			for _, line := range strings.Split(string(status), "\n") {
				// NSpid: <host pid> ... <pid in the innermost namespace>
				if fs := strings.Fields(line); len(fs) >= 2 && fs[0] == "NSpid:" && fs[len(fs)-1] == strconv.Itoa(nodePID) {
					return pid
				}
			}
		}
	}
	return 0
}

// rssKB reads VmRSS of a host PID in kB (0 if unknown).
func rssKB(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
