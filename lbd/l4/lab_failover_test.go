package l4

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/lab"
)

// Two directors as in the article's active/active architecture: vrrpd
// holds the service VIP (lb_FW, 10.0.0.100) and the nginx gateway (lb_nginx,
// 10.0.1.1) on the master; lbd runs on both from the same keepalived.conf.
const failoverTopology = `
name: l4b
lans: [edge, front]
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
    sysctls:
      net.ipv4.ip_forward: "1"
  - name: lvs02
    role: director
    interfaces:
      - {name: eth0, lan: edge, addresses: [10.0.0.3/24]}
      - {name: eth1, lan: front, addresses: [10.0.1.3/24]}
    sysctls:
      net.ipv4.ip_forward: "1"
  - name: nginx01
    role: proxy
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.11/24]}
    routes:
      - {to: default, via: 10.0.1.1}
  - name: nginx02
    role: proxy
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.12/24]}
    routes:
      - {to: default, via: 10.0.1.1}
`

// directorConf is keepalived01's (or 02's) keepalived.conf from the article,
// addresses filled in, with quick timers.
func directorConf(state string, priority int) string {
	return fmt.Sprintf(`vrrp_instance lb_FW {
interface eth0
state %[1]s
virtual_router_id 22
priority %[2]d
advert_int 1
authentication {
auth_type PASS
auth_pass Security
}
virtual_ipaddress {
10.0.0.100/24 dev eth0
}
}
vrrp_instance lb_nginx {
interface eth1
state %[1]s
virtual_router_id 111
priority %[2]d
advert_int 1
authentication {
auth_type PASS
auth_pass Security
}
virtual_ipaddress {
10.0.1.1/24 dev eth1
}
}
%[3]s`, state, priority, labConf)
}

func hasAddr(t *testing.T, n *lab.Node, addr string) bool {
	ifs, err := n.Interfaces()
	require.NoError(t, err)
	for _, i := range ifs {
		if slices.ContainsFunc(i.Addresses, func(a string) bool { return strings.HasPrefix(a, addr+"/") }) {
			return true
		}
	}
	return false
}

func TestLabDirectorFailover(t *testing.T) {
	x := upLab(t, "l4b", failoverTopology)
	require.NoError(t, gobuild.Build(filepath.Join(x.shared, "vrrpd"), "halab/cmd/vrrpd"))

	vrrp, lbd := map[string]*lab.Process{}, map[string]*lab.Process{}
	for _, d := range []struct {
		node, state string
		prio        int
	}{{"lvs01", "MASTER", 100}, {"lvs02", "BACKUP", 90}} {
		lbd[d.node] = x.startLBDOn(t, d.node, directorConf(d.state, d.prio))
		path := filepath.Join(x.shared, d.node+"-keepalived.conf")
		p, err := x.l.MustNode(d.node).Start(context.Background(), lab.ProcSpec{Name: "vrrpd",
			Args: []string{filepath.Join(x.shared, "vrrpd"), "-f", path, "-n", "-l", "-D"}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
		vrrp[d.node] = p
	}
	lvs01, lvs02 := x.l.MustNode("lvs01"), x.l.MustNode("lvs02")
	require.Eventually(t, func() bool { return hasAddr(t, lvs01, "10.0.0.100") && hasAddr(t, lvs01, "10.0.1.1") },
		15*time.Second, 100*time.Millisecond, "lvs01 becomes master; vrrpd log:\n%s", x.logOf("lvs01", "vrrpd"))

	var apps []string
	for range 4 {
		s, err := x.get()
		require.NoError(t, err)
		assert.Equal(t, "10.0.0.10", s.PeerIP)
		apps = append(apps, s.App)
	}
	assert.ElementsMatch(t, []string{"nginx01", "nginx01", "nginx02", "nginx02"}, apps)

	// The master's vrrpd stops: the VIPs move to lvs02 and new connections
	// go through lvs02's lbd.
	start := time.Now()
	require.NoError(t, vrrp["lvs01"].Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		return !hasAddr(t, lvs01, "10.0.0.100") && hasAddr(t, lvs02, "10.0.0.100") && hasAddr(t, lvs02, "10.0.1.1")
	}, 20*time.Second, 20*time.Millisecond, "lvs02 vrrpd log:\n%s", x.logOf("lvs02", "vrrpd"))
	moved := time.Since(start)
	require.Eventually(t, func() bool {
		s1, err1 := x.get()
		s2, err2 := x.get()
		return err1 == nil && err2 == nil && s1.App != s2.App && s1.PeerIP == "10.0.0.10"
	}, 20*time.Second, 50*time.Millisecond, "lvs02 lbd log:\n%s", x.logOf("lvs02", "lbd"))
	t.Logf("VIPs on lvs02 %v after lvs01's vrrpd got SIGTERM; new connections through lvs02's lbd after %v",
		moved.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	assert.False(t, hasAddr(t, lvs01, "10.0.1.1"))

	// lvs01 is out of the path: its lbd can go.
	require.NoError(t, lbd["lvs01"].Stop(context.Background()))
	for range 2 {
		s, err := x.get()
		require.NoError(t, err)
		assert.Equal(t, "10.0.0.10", s.PeerIP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := lvs02.Run(ctx, "nft", "list", "chain", "ip", DefaultTable, "prerouting")
	require.NoError(t, err, out)
}
