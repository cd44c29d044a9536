package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"halab/lab"
)

// Tables halab owns in the nodes.
const (
	partTable       = "halab_part"
	vrrpTablePrefix = "halab_vrrp_" // + the peer whose adverts are dropped
	lossTablePrefix = "halab_loss_" // + the interface
)

// vrrpProto is VRRP's IP protocol number.
const vrrpProto = 112

var tableSafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// nodeIdentity is what filters match a node by: its MAC addresses and its
// configured IPv4 addresses.
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

// nft loads a ruleset into a node (from a file in the shared dir: the node
// cannot read the host's /tmp).
func (e *Engine) nft(ctx context.Context, n *lab.Node, name, ruleset string) error {
	dir := filepath.Join(e.lab.SharedDir(), "nft")
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

// FilterTable renders an inet table dropping in the given hooks (input,
// output, forward); loading it replaces the table of that name.
func FilterTable(table string, chains map[string][]string) string {
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

// nodes resolves node names.
func (e *Engine) nodes(names []string) ([]*lab.Node, error) {
	out := make([]*lab.Node, 0, len(names))
	for _, name := range names {
		n, err := e.lab.Node(name)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Partition makes every node drop what comes from, or goes to, the nodes
// of the other groups (by MAC and address, so VIPs are cut too).
func (e *Engine) Partition(ctx context.Context, groups [][]string) error {
	ids := map[string]nodeIdentity{}
	for _, g := range groups {
		ns, err := e.nodes(g)
		if err != nil {
			return err
		}
		for _, n := range ns {
			id, err := identity(n)
			if err != nil {
				return err
			}
			ids[n.Name()] = id
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
			errs = append(errs, e.nft(ctx, e.lab.MustNode(name), "partition", FilterTable(partTable, rules)))
		}
	}
	return errors.Join(errs...)
}

// Heal removes every partition.
func (e *Engine) Heal(ctx context.Context) {
	for _, name := range e.lab.NodeNames() {
		dropTable(ctx, e.lab.MustNode(name), partTable)
	}
}

// BlockVRRP makes each of the nodes drop the VRRP adverts (IP protocol
// 112, IPv4 or IPv6) of the others, matched by their MAC addresses, so each
// believes it is alone: split brain. Each pair gets a table of its own, so
// pairs are unblocked one by one.
func (e *Engine) BlockVRRP(ctx context.Context, nodes ...string) error {
	ns, err := e.nodes(nodes)
	if err != nil {
		return err
	}
	ids := map[string]nodeIdentity{}
	for _, n := range ns {
		if ids[n.Name()], err = identity(n); err != nil {
			return err
		}
	}
	var errs []error
	for _, n := range ns {
		for _, peer := range ns {
			if peer == n || len(ids[peer.Name()].macs) == 0 {
				continue
			}
			table := vrrpTable(peer.Name())
			rules := map[string][]string{"input": {fmt.Sprintf("ether saddr %s meta l4proto %d drop", set(ids[peer.Name()].macs), vrrpProto)}}
			errs = append(errs, e.nft(ctx, n, table, FilterTable(table, rules)))
		}
	}
	return errors.Join(errs...)
}

func vrrpTable(peer string) string { return vrrpTablePrefix + tableSafe.ReplaceAllString(peer, "_") }

// UnblockVRRP lets VRRP through again between the nodes; with no nodes,
// everywhere.
func (e *Engine) UnblockVRRP(ctx context.Context, nodes ...string) error {
	if len(nodes) == 0 {
		for _, name := range e.lab.NodeNames() {
			n := e.lab.MustNode(name)
			out, _ := n.Run(ctx, "nft", "list", "tables")
			for _, line := range strings.Split(out, "\n") {
				if t, ok := strings.CutPrefix(strings.TrimSpace(line), "table inet "); ok && strings.HasPrefix(t, vrrpTablePrefix) {
					dropTable(ctx, n, t)
				}
			}
		}
		return nil
	}
	ns, err := e.nodes(nodes)
	if err != nil {
		return err
	}
	for _, n := range ns {
		for _, peer := range ns {
			if peer != n {
				dropTable(ctx, n, vrrpTable(peer.Name()))
			}
		}
	}
	return nil
}
