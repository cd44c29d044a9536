package assert

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"halab/lab"
)

// StatusSource reads the live state of a lab's nodes; *lab.Lab satisfies it.
type StatusSource interface {
	Status() ([]lab.NodeStatus, error)
}

// Holders returns the nodes that have addr on an interface, in node order.
func Holders(src StatusSource, addr string) ([]string, error) {
	want, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("vip %q: %w", addr, err)
	}
	st, err := src.Status()
	if err != nil {
		return nil, fmt.Errorf("lab status: %w", err)
	}
	return HoldersIn(st, want), nil
}

// HoldersIn returns the nodes of a status snapshot that have addr.
func HoldersIn(st []lab.NodeStatus, addr netip.Addr) []string {
	var out []string
	for _, n := range st {
		if nodeHas(n, addr) {
			out = append(out, n.Name)
		}
	}
	return out
}

// nodeHas reports whether the node holds addr: on an interface that is
// up, as a crashed node's VIP on a downed link serves nobody.
func nodeHas(n lab.NodeStatus, addr netip.Addr) bool {
	for _, i := range n.Interfaces {
		if !i.Up {
			continue
		}
		for _, a := range i.Addresses {
			a, _, _ = strings.Cut(a, " ") // "10.0.1.100/32 (eth0:vip)"
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr() == addr {
				return true
			}
			if p, err := netip.ParseAddr(a); err == nil && p == addr {
				return true
			}
		}
	}
	return false
}

func holdersText(h []string, err error) string {
	switch {
	case err != nil:
		return "an error: " + err.Error()
	case len(h) == 0:
		return "no node holding it"
	case len(h) == 1:
		return "held by " + h[0]
	}
	return "held by " + strings.Join(h, " and ") + " (split brain)"
}

// VIPHolder checks that node, and only node, holds vip within the time
// given (0: now).
func VIPHolder(t TestingT, src StatusSource, vip, node string, within time.Duration) bool {
	helper(t)
	ok, seen := eventually(within, func() (bool, string) {
		h, err := Holders(src, vip)
		return err == nil && len(h) == 1 && h[0] == node, holdersText(h, err)
	})
	if ok {
		return true
	}
	return failf(t, fmt.Sprintf("VIP %s held by %s alone %s", vip, node, withinText(within)), seen)
}

// OneHolder checks that exactly one node holds vip (no split brain, no
// outage) within the time given.
func OneHolder(t TestingT, src StatusSource, vip string, within time.Duration) bool {
	helper(t)
	ok, seen := eventually(within, func() (bool, string) {
		h, err := Holders(src, vip)
		return err == nil && len(h) == 1, holdersText(h, err)
	})
	if ok {
		return true
	}
	return failf(t, fmt.Sprintf("VIP %s held by exactly one node %s", vip, withinText(within)), seen)
}

// SplitBrain checks that two nodes or more hold vip within the time given,
// for scenarios that provoke it.
func SplitBrain(t TestingT, src StatusSource, vip string, within time.Duration) bool {
	helper(t)
	ok, seen := eventually(within, func() (bool, string) {
		h, err := Holders(src, vip)
		return err == nil && len(h) >= 2, holdersText(h, err)
	})
	if ok {
		return true
	}
	return failf(t, fmt.Sprintf("VIP %s held by several nodes (split brain) %s", vip, withinText(within)), seen)
}

// VRRPState checks that a node's vrrpd reports state (MASTER, BACKUP,
// FAULT) for instance (any instance when empty) within the time given.
func VRRPState(t TestingT, src StatusSource, node, instance, state string, within time.Duration) bool {
	helper(t)
	ok, seen := eventually(within, func() (bool, string) {
		st, err := src.Status()
		if err != nil {
			return false, "an error: " + err.Error()
		}
		i := slices.IndexFunc(st, func(n lab.NodeStatus) bool { return n.Name == node })
		if i < 0 {
			return false, "no node " + node
		}
		if len(st[i].VRRP) == 0 {
			return false, "no VRRP status on " + node + " (no vrrpd running?)"
		}
		var states []string
		for _, in := range st[i].VRRP {
			if instance != "" && in.Name != instance {
				continue
			}
			if in.State == state {
				return true, ""
			}
			states = append(states, fmt.Sprintf("%s %s (priority %d)", in.Name, in.State, in.EffectivePriority))
		}
		if len(states) == 0 {
			return false, "no instance " + instance + " on " + node
		}
		return false, strings.Join(states, ", ")
	})
	if ok {
		return true
	}
	what := "VRRP"
	if instance != "" {
		what = "VRRP instance " + instance
	}
	return failf(t, fmt.Sprintf("%s on %s in state %s %s", what, node, state, withinText(within)), seen)
}
