package vrrpd

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// BenchmarkFailover measures SIGKILL of the master daemon -> VIP present on
// the backup, for vrrpd and keepalived with identical configs (both routers
// run the same implementation). Run with -benchtime=3x; the figure is the
// failover-ms metric.
func BenchmarkFailover(b *testing.B) {
	for _, mode := range []struct {
		name    string
		version int
		advert  string
	}{{"v2-advert1s", 2, "1"}, {"v3-advert50ms", 3, "0.05"}} {
		for _, i := range []impl{implVrrpd, implKeepalived} {
			b.Run(mode.name+"/"+string(i), func(b *testing.B) {
				v := newVRRPLab(b, "vrb")
				defer v.stopAll()
				h, err := v.l.MustNode("r2").Handle()
				require.NoError(b, err)
				defer h.Close()
				link, err := h.LinkByName("eth0")
				require.NoError(b, err)
				vip := net.ParseIP(labVIP)
				r2Has := func() bool {
					addrs, err := h.AddrList(link, netlink.FAMILY_V4)
					require.NoError(b, err)
					for _, a := range addrs {
						if a.IP.Equal(vip) {
							return true
						}
					}
					return false
				}
				r1 := routerConf{node: "r1", version: mode.version, state: "MASTER", priority: 120, advertInt: mode.advert}
				r2 := routerConf{node: "r2", version: mode.version, state: "BACKUP", priority: 110, advertInt: mode.advert}
				var total time.Duration
				var rss int
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					b.StopTimer()
					v.start(i, r1)
					v.start(i, r2)
					v.waitHolders(20*time.Second, "r1")
					time.Sleep(500 * time.Millisecond) // settle: r2 has seen adverts
					if i == implVrrpd {
						rss = max(rss, rssKB(v.procs["r1"].PID()))
					}
					b.StartTimer()
					start := time.Now()
					if i == implKeepalived {
						_, err := v.l.MustNode("r1").Run(v.ctx, "sh", "-c", "kill -KILL $(cat /run/keepalived_vrrp.pid)")
						require.NoError(b, err)
					}
					require.NoError(b, v.procs["r1"].Signal(syscall.SIGKILL))
					for !r2Has() {
						if time.Since(start) > 20*time.Second {
							b.Fatal("no failover within 20s")
						}
						time.Sleep(2 * time.Millisecond)
					}
					took := time.Since(start)
					b.StopTimer()
					total += took
					b.Logf("%s %s: failover in %v", mode.name, i, took)
					<-v.procs["r1"].Done()
					v.stopAll()
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "failover-ms")
				if rss > 0 {
					b.ReportMetric(float64(rss)/1024, "master-rss-MB")
				}
			})
		}
	}
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
