package faults

import (
	"context"
	"fmt"
	"strings"
)

// Loss drops percent% of the packets entering or leaving a node's
// interface at random (nftables numgen: this kernel has no netem); 0
// removes the loss.
func (e *Engine) Loss(ctx context.Context, node, iface string, percent int) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	table := lossTablePrefix + tableSafe.ReplaceAllString(iface, "_")
	if percent <= 0 {
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
	return e.nft(ctx, n, table, FilterTable(table, rules))
}

// Bandwidth limits a node interface's egress with a token bucket filter
// (burst defaults to 32kbit); rate "off" removes it.
func (e *Engine) Bandwidth(ctx context.Context, node, iface, rate, burst string) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	if rate == "off" {
		_, _ = n.Run(ctx, "tc", "qdisc", "del", "dev", iface, "root")
		return nil
	}
	if burst == "" {
		burst = "32kbit"
	}
	out, err := n.Run(ctx, "tc", "qdisc", "replace", "dev", iface, "root", "tbf", "rate", rate, "burst", burst, "latency", "400ms")
	if err != nil {
		return fmt.Errorf("%s: tc tbf on %s: %w: %s", node, iface, err, strings.TrimSpace(out))
	}
	return nil
}
