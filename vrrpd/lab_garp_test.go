package vrrpd

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/lab"
	"halab/lab/capture"
)

// garpBursts groups the gratuitous ARPs matching p into bursts (a gap of
// more than 300 ms starts a new one) and returns their sizes and the gaps
// between the starts of consecutive bursts.
func garpBursts(packets []capture.Packet, p capture.Pattern) (sizes []int, gaps []time.Duration) {
	var last, burstStart time.Time
	for _, pk := range capture.Select(packets, p) {
		if last.IsZero() || pk.Time.Sub(last) > 300*time.Millisecond {
			if !burstStart.IsZero() {
				gaps = append(gaps, pk.Time.Sub(burstStart))
			}
			sizes = append(sizes, 0)
			burstStart = pk.Time
		}
		sizes[len(sizes)-1]++
		last = pk.Time
	}
	return sizes, gaps
}

// TestLabGARPAndResign captures the LAN from a third node while r1 becomes
// master, then resigns on SIGTERM and r2 takes over, for vrrpd and keepalived
// with the same configs (vrrp_garp_master_repeat 3, vrrp_garp_master_delay 1):
// each new master sends a burst of 3 gratuitous ARPs from its own MAC and a
// second burst a second later, and once r1 sent its priority 0 advert no
// advert of its own follows.
func TestLabGARPAndResign(t *testing.T) {
	t.Parallel()
	v := newVRRPLab(t, "vr8")
	obs := v.l.MustNode("obs")
	vip := netip.MustParseAddr(labVIP)
	r1IP := netip.MustParseAddr("10.0.1.11")
	mac1 := lab.MAC(v.l.Name(), "r1", "eth0")
	mac2 := lab.MAC(v.l.Name(), "r2", "eth0")
	garpCfg := "  vrrp_garp_master_repeat 3\n  vrrp_garp_master_delay 1\n"
	results := map[impl]string{}
	for _, i := range []impl{implVrrpd, implKeepalived} {
		t.Run(string(i), func(t *testing.T) {
			v.t = t
			defer v.stopAll()
			g, err := capture.StartGroup(v.ctx, []capture.Spec{{Node: "obs", Iface: "eth0", NetNS: obs.NetNSPath()}})
			require.NoError(t, err)
			stopped := false
			defer func() {
				if !stopped {
					_, _ = g.Stop()
				}
			}()
			r1 := routerConf{node: "r1", version: 2, state: "MASTER", priority: 120, advertInt: "1", global: garpCfg}
			r2 := routerConf{node: "r2", version: 2, state: "BACKUP", priority: 110, advertInt: "1", global: garpCfg}
			// r2 starts once r1 holds the VIP: started together on a
			// loaded machine, r2 may be master for a moment first, and a
			// master hearing a lower priority advert sends more
			// gratuitous ARPs (keepalived's vrrp_garp_lower_prio_repeat)
			v.start(i, r1)
			v.waitHolders(15*time.Second, "r1")
			v.start(i, r2)
			time.Sleep(2 * time.Second) // the second burst
			v.waitHolders(time.Second, "r1")
			v.kill("r1", syscall.SIGTERM)
			v.waitHolders(15*time.Second, "r2")
			time.Sleep(2500 * time.Millisecond) // r2's second burst; r1 silent
			_, err = g.Stop()
			stopped = true
			require.NoError(t, err)
			pkts := g.Packets()

			// r2 is counted from r1's resignation on. r2 starts once r1 is
			// master (above), so it has nothing to announce before; the
			// cut only keeps a backup that missed adverts under load out
			// of what this test is about.
			resign := capture.Select(pkts, capture.VRRPAdvert().From(r1IP).Priority(0))
			require.NotEmpty(t, resign)
			s1, gaps1 := garpBursts(pkts, capture.GratuitousARP(vip).FromMAC(mac1))
			s2, gaps2 := garpBursts(capture.Since(pkts, resign[0].Time), capture.GratuitousARP(vip).FromMAC(mac2))
			t.Logf("%s: r1 GARP bursts %v gaps %v; r2 GARP bursts %v gaps %v", i, s1, gaps1, s2, gaps2)
			require.Equal(t, []int{3, 3}, s1, "r1's gratuitous ARPs")
			require.Equal(t, []int{3, 3}, s2, "r2's gratuitous ARPs")
			for _, gap := range append(gaps1, gaps2...) {
				require.InDelta(t, float64(time.Second), float64(gap), float64(400*time.Millisecond), "garp_master_delay")
			}
			steps := []capture.Pattern{
				capture.VRRPAdvert().From(r1IP).Priority(120),
				capture.GratuitousARP(vip).FromMAC(mac1),
				capture.VRRPAdvert().From(r1IP).Priority(0),
				capture.GratuitousARP(vip).FromMAC(mac2),
				capture.VRRPAdvert().From(netip.MustParseAddr("10.0.1.12")).Priority(110),
			}
			require.NoError(t, capture.ExpectSequence(pkts, steps, 0))

			// No advert from r1 after its priority 0 advert.
			require.NoError(t, capture.ExpectAbsent(pkts, capture.VRRPAdvert().From(r1IP), resign[len(resign)-1].Time.Add(time.Nanosecond)))
			results[i] = fmt.Sprint(s1, s2, len(resign))
		})
	}
	if len(results) == 2 {
		require.Equal(t, results[implKeepalived], results[implVrrpd], "vrrpd must match keepalived (bursts r1, r2, priority 0 adverts)")
	}
}
