package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"halab/lab"
)

// Fault injection inside the lab's nodes: links through netlink, filters
// through nftables tables owned by halab (halab_part, halab_vrrp,
// halab_loss_IFACE), bandwidth through a tc tbf qdisc. Everything happens in
// the nodes' namespaces; nothing touches the host's.

// setLink brings a node's interface up or down.
func setLink(n *lab.Node, iface string, up bool) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("%s: interface %s: %w", n.Name(), iface, err)
	}
	if up {
		err = h.LinkSetUp(link)
	} else {
		err = h.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("%s: set %s up=%v: %w", n.Name(), iface, up, err)
	}
	return nil
}

// setAllLinks brings every interface of a node (loopback excepted) up or down.
func setAllLinks(n *lab.Node, up bool) error {
	var errs []error
	for _, i := range n.Spec().Interfaces {
		errs = append(errs, setLink(n, i.Name, up))
	}
	return errors.Join(errs...)
}

// nodeIdentity is what filters match a node by: its MAC addresses and
// its configured IPv4 addresses.
type nodeIdentity struct {
	macs, addrs []string
}

func identity(n *lab.Node) (nodeIdentity, error) {
	var id nodeIdentity
	ifs, err := n.Interfaces()
	if err != nil {
		return id, err
	}
	for _, i := range ifs {
		if i.MAC != "" {
			id.macs = append(id.macs, i.MAC)
		}
	}
	for _, i := range n.Spec().Interfaces {
		for _, a := range i.Addresses {
			if a.Prefix.Addr().Is4() {
				id.addrs = append(id.addrs, a.Prefix.Addr().String())
			}
		}
	}
	return id, nil
}

func set(elems []string) string { return "{ " + strings.Join(elems, ", ") + " }" }

// nft loads a ruleset into a node (from a file in the shared dir: the
// node cannot read the host's /tmp).
func nft(ctx context.Context, l *lab.Lab, n *lab.Node, name, ruleset string) error {
	dir := filepath.Join(l.SharedDir(), "nft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, n.Name()+"-"+name+".nft")
	if err := os.WriteFile(path, []byte(ruleset), 0o644); err != nil {
		return err
	}
	if out, err := n.Run(ctx, "nft", "-f", path); err != nil {
		return fmt.Errorf("%s: nft %s: %w: %s", n.Name(), name, err, strings.TrimSpace(out))
	}
	return nil
}

// dropTable removes a halab table from a node, if it is there.
func dropTable(ctx context.Context, n *lab.Node, table string) {
	_, _ = n.Run(ctx, "nft", "delete", "table", "inet", table)
}

// filterTable renders an inet table dropping in the given hooks.
func filterTable(table string, chains map[string][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", table, table, table)
	for _, hook := range []string{"input", "output", "forward"} {
		rules := chains[hook]
		if len(rules) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  chain %s {\n    type filter hook %s priority -10; policy accept;\n", hook, hook)
		for _, r := range rules {
			fmt.Fprintf(&b, "    %s\n", r)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// partition makes every node drop what comes from, or goes to, the nodes of
// the other groups (by MAC and address, so VIPs are cut too).
func partition(ctx context.Context, l *lab.Lab, groups [][]string) error {
	ids := map[string]nodeIdentity{}
	for _, g := range groups {
		for _, name := range g {
			id, err := identity(l.MustNode(name))
			if err != nil {
				return err
			}
			ids[name] = id
		}
	}
	var errs []error
	for gi, g := range groups {
		var macs, addrs []string
		for gj, other := range groups {
			if gi == gj {
				continue
			}
			for _, name := range other {
				macs = append(macs, ids[name].macs...)
				addrs = append(addrs, ids[name].addrs...)
			}
		}
		rules := map[string][]string{"input": {"ether saddr " + set(macs) + " drop"}}
		if len(addrs) > 0 {
			rules["input"] = append(rules["input"], "ip saddr "+set(addrs)+" drop")
			rules["output"] = []string{"ip daddr " + set(addrs) + " drop"}
		}
		for _, name := range g {
			errs = append(errs, nft(ctx, l, l.MustNode(name), "partition", filterTable("halab_part", rules)))
		}
	}
	return errors.Join(errs...)
}

// heal removes every partition.
func heal(ctx context.Context, l *lab.Lab) {
	for _, name := range l.NodeNames() {
		dropTable(ctx, l.MustNode(name), "halab_part")
	}
}

// blockVRRP makes each node drop the VRRP adverts (IP protocol 112) of the
// others, so each believes it is alone: split brain.
func blockVRRP(ctx context.Context, l *lab.Lab, nodes []string) error {
	var errs []error
	for _, name := range nodes {
		var macs []string
		for _, other := range nodes {
			if other == name {
				continue
			}
			id, err := identity(l.MustNode(other))
			if err != nil {
				return err
			}
			macs = append(macs, id.macs...)
		}
		rules := map[string][]string{"input": {"ip protocol 112 ether saddr " + set(macs) + " drop"}}
		errs = append(errs, nft(ctx, l, l.MustNode(name), "vrrp", filterTable("halab_vrrp", rules)))
	}
	return errors.Join(errs...)
}

// unblockVRRP lets VRRP through again everywhere.
func unblockVRRP(ctx context.Context, l *lab.Lab) {
	for _, name := range l.NodeNames() {
		dropTable(ctx, l.MustNode(name), "halab_vrrp")
	}
}

var tableSafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// loss drops percent% of the packets entering or leaving iface at random
// (nftables numgen); 0 removes the loss.
func loss(ctx context.Context, l *lab.Lab, n *lab.Node, iface string, percent int) error {
	table := "halab_loss_" + tableSafe.ReplaceAllString(iface, "_")
	if percent == 0 {
		dropTable(ctx, n, table)
		return nil
	}
	random := fmt.Sprintf(" numgen random mod 100 < %d", percent)
	if percent >= 100 {
		random = ""
	}
	in := fmt.Sprintf("iifname %q%s drop", iface, random)
	out := fmt.Sprintf("oifname %q%s drop", iface, random)
	rules := map[string][]string{"input": {in}, "output": {out}, "forward": {in, out}}
	return nft(ctx, l, n, table, filterTable(table, rules))
}

// bandwidth limits iface's egress with a token bucket filter; "off"
// removes it.
func bandwidth(ctx context.Context, n *lab.Node, iface, rate, burst string) error {
	if rate == "off" {
		_, _ = n.Run(ctx, "tc", "qdisc", "del", "dev", iface, "root")
		return nil
	}
	if burst == "" {
		burst = "32kbit"
	}
	out, err := n.Run(ctx, "tc", "qdisc", "replace", "dev", iface, "root", "tbf", "rate", rate, "burst", burst, "latency", "400ms")
	if err != nil {
		return fmt.Errorf("%s: tc tbf on %s: %w: %s", n.Name(), iface, err, strings.TrimSpace(out))
	}
	return nil
}

// signalProcess signals every process of a node with that name (pkill -x).
func signalProcess(ctx context.Context, n *lab.Node, name, sig string) error {
	out, err := n.Run(ctx, "pkill", "-"+strings.TrimPrefix(strings.ToUpper(sig), "SIG"), "-x", name)
	if err != nil {
		var ee *lab.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return fmt.Errorf("no process named %s on %s", name, n.Name())
		}
		return fmt.Errorf("%s: pkill %s: %w: %s", n.Name(), name, err, strings.TrimSpace(out))
	}
	return nil
}

// killAll kills every process of a node but its init (a node crash).
func killAll(ctx context.Context, n *lab.Node) error {
	out, err := n.Run(ctx, "kill", "-KILL", "-1")
	if err != nil {
		var ee *lab.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 && strings.TrimSpace(out) == "" {
			return nil // nothing left to kill
		}
		return fmt.Errorf("%s: kill -KILL -1: %w: %s", n.Name(), err, strings.TrimSpace(out))
	}
	return nil
}

// nodeAddrs lists a node's addresses as the kernel has them (VIPs included).
func nodeAddrs(n *lab.Node) ([]netip.Addr, error) {
	h, err := n.Handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	list, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

// waitListening waits until every named node has a TCP socket listening
// (its app or proxy is ready), for at most d. It is best effort: a node
// that never listens is left to the scenario's expectations.
func waitListening(ctx context.Context, l *lab.Lab, nodes []string, d time.Duration) {
	deadline := time.Now().Add(d)
	for _, name := range nodes {
		pid := l.MustNode(name).InitPID()
		for time.Now().Before(deadline) && ctx.Err() == nil {
			b4, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
			b6, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp6", pid))
			if hasListener(string(b4)) || hasListener(string(b6)) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// hasListener reports whether a /proc/net/tcp table has a LISTEN socket.
func hasListener(table string) bool {
	lines := strings.Split(table, "\n")
	if len(lines) < 2 {
		return false
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == "0A" {
			return true
		}
	}
	return false
}
