package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// starTopology is n nodes on one LAN.
func starTopology(name string, n int) *Topology {
	t := &Topology{Name: name, LANs: []LANSpec{{Name: "lan"}}}
	for i := 0; i < n; i++ {
		addr := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)}), 16)
		t.Nodes = append(t.Nodes, NodeSpec{
			Name:       fmt.Sprintf("h%03d", i),
			Role:       "host",
			Interfaces: []IfaceSpec{{Name: "eth0", LAN: "lan", Addresses: []AddrSpec{{Prefix: addr}}}},
		})
	}
	return t
}

// chainTopology is n routers in a line joined by point-to-point links,
// forwarding, each with a default route towards the next.
func chainTopology(name string, n int) *Topology {
	t := &Topology{Name: name}
	for i := 0; i < n-1; i++ {
		t.Links = append(t.Links, LinkSpec{Name: fmt.Sprintf("l%02d", i)})
	}
	for i := 0; i < n; i++ {
		node := NodeSpec{Name: fmt.Sprintf("r%02d", i), Role: "router", Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}
		if i > 0 { // link to the previous router: we are .2
			node.Interfaces = append(node.Interfaces, IfaceSpec{Name: "left", Link: fmt.Sprintf("l%02d", i-1),
				Addresses: []AddrSpec{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 2, byte(i - 1), 2}), 30)}}})
		}
		if i < n-1 { // link to the next router: we are .1
			node.Interfaces = append(node.Interfaces, IfaceSpec{Name: "right", Link: fmt.Sprintf("l%02d", i),
				Addresses: []AddrSpec{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 2, byte(i), 1}), 30)}}})
			node.Routes = []RouteSpec{{To: "default", Via: fmt.Sprintf("10.2.%d.2", i)}}
		}
		t.Nodes = append(t.Nodes, node)
	}
	return t
}

func benchTopologies(b *testing.B) map[string]*Topology {
	out := map[string]*Topology{
		"star100": starTopology("lb-star", 100),
		"chain50": chainTopology("lb-chain", 50),
	}
	for _, f := range []string{"simple", "complex", "active-active"} {
		t, err := LoadTopology(filepath.Join("..", "topologies", f+".yaml"))
		if err != nil {
			b.Fatal(err)
		}
		t.Name = "lb-" + f
		out[f] = t
	}
	for _, t := range out {
		if err := t.Validate(); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkUpDown times `lab up` and `lab down` for the article's
// topologies and generated ones (100 nodes on a LAN, a chain of 50 routers).
// Targets on the 2-core machine: simple up < 300 ms, down < 200 ms; 100
// nodes up < 5 s.
func BenchmarkUpDown(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	topos := benchTopologies(b)
	for _, name := range []string{"simple", "complex", "active-active", "star100", "chain50"} {
		t := topos[name]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			_ = Down(ctx, t.Name)
			var up, down time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				l, err := Up(ctx, t, WithoutRun())
				if err != nil {
					b.Fatal(err)
				}
				up += time.Since(start)
				start = time.Now()
				if err := l.Down(ctx); err != nil {
					b.Fatal(err)
				}
				down += time.Since(start)
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "up-ms")
			b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "down-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkShellScript times the equivalent plain `ip netns`/`ip link`
// shell script (network namespaces only: no pid/mount/uts isolation) for
// the same topologies, as the baseline halab must beat.
func BenchmarkShellScript(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	topos := benchTopologies(b)
	for _, name := range []string{"simple", "complex", "active-active", "star100", "chain50"} {
		t := topos[name]
		b.Run(name, func(b *testing.B) {
			upScript, downScript := shellScripts(t)
			var up, down time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if out, err := exec.Command("sh", "-ec", upScript).CombinedOutput(); err != nil {
					_ = exec.Command("sh", "-c", downScript).Run()
					b.Fatalf("%v: %s", err, out)
				}
				up += time.Since(start)
				start = time.Now()
				if out, err := exec.Command("sh", "-ec", downScript).CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				down += time.Since(start)
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "up-ms")
			b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "down-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// shellScripts renders a topology as the `ip` commands a person would write.
func shellScripts(t *Topology) (up, down string) {
	var u, d strings.Builder
	sw := "sh-" + t.Name + "-sw"
	fmt.Fprintf(&u, "ip netns add %s\n", sw)
	for _, lan := range t.LANs {
		fmt.Fprintf(&u, "ip -n %s link add br-%s type bridge\nip -n %s link set br-%s up\n", sw, lan.Name, sw, lan.Name)
	}
	linkFirst := map[string][2]string{}
	for i, n := range t.Nodes {
		ns := fmt.Sprintf("sh-%s-%s", t.Name, n.Name)
		fmt.Fprintf(&u, "ip netns add %s\nip -n %s link set lo up\n", ns, ns)
		for k, v := range n.Sysctls {
			fmt.Fprintf(&u, "ip netns exec %s sysctl -qw %s=%s\n", ns, k, v)
		}
		for j, ifc := range n.Interfaces {
			switch {
			case ifc.LAN != "":
				port := fmt.Sprintf("p%d-%d", i, j)
				fmt.Fprintf(&u, "ip -n %s link add %s type veth peer name %s netns %s\n", sw, port, ifc.Name, ns)
				fmt.Fprintf(&u, "ip -n %s link set %s master br-%s up\n", sw, port, ifc.LAN)
			default:
				if first, ok := linkFirst[ifc.Link]; ok {
					fmt.Fprintf(&u, "ip -n %s link add %s type veth peer name %s netns %s\n", first[0], first[1], ifc.Name, ns)
					fmt.Fprintf(&u, "ip -n %s link set %s up\n", first[0], first[1])
				} else {
					linkFirst[ifc.Link] = [2]string{ns, ifc.Name}
				}
			}
		}
		fmt.Fprintf(&d, "ip netns del %s\n", ns)
	}
	// Addresses and routes once every link exists.
	for _, n := range t.Nodes {
		ns := fmt.Sprintf("sh-%s-%s", t.Name, n.Name)
		for _, ifc := range n.Interfaces {
			for _, a := range ifc.Addresses {
				fmt.Fprintf(&u, "ip -n %s addr add %s dev %s\n", ns, a.Prefix, ifc.Name)
			}
			fmt.Fprintf(&u, "ip -n %s link set %s up\n", ns, ifc.Name)
		}
		for _, r := range n.Routes {
			fmt.Fprintf(&u, "ip -n %s route add %s via %s\n", ns, r.To, r.Via)
		}
	}
	fmt.Fprintf(&d, "ip netns del %s\n", sw)
	return u.String(), d.String()
}
