package ui

import (
	"fmt"
	"slices"
	"time"
)

// Event is an entry of the timeline: a state change seen by the poller,
// a fault injected, or a probe milestone.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // fault, vrrp, vip, daemon, link, backend, probe, info
	Node string    `json:"node,omitempty"`
	Text string    `json:"text"`
}

// diffStates lists what changed from prev to cur as timeline events.
func diffStates(prev, cur *State) []Event {
	if prev == nil || cur == nil {
		return nil
	}
	var out []Event
	add := func(kind, node, format string, args ...any) {
		out = append(out, Event{Time: cur.Time, Kind: kind, Node: node, Text: fmt.Sprintf(format, args...)})
	}
	for _, n := range cur.Nodes {
		p := prev.Node(n.Name)
		if p == nil {
			continue
		}
		for _, v := range n.VIPs {
			if !slices.Contains(p.VIPs, v) {
				add("vip", n.Name, "%s now holds VIP %s", n.Name, v)
			}
		}
		for _, v := range p.VIPs {
			if !slices.Contains(n.VIPs, v) {
				add("vip", n.Name, "%s released VIP %s", n.Name, v)
			}
		}
		for _, ifc := range n.Interfaces {
			for _, pi := range p.Interfaces {
				if pi.Name == ifc.Name && pi.Up != ifc.Up {
					add("link", n.Name, "%s:%s is %s", n.Name, ifc.Name, upDown(ifc.Up))
				}
			}
		}
		for _, d := range n.Daemons {
			pd := findDaemon(p.Daemons, d.Name)
			switch {
			case pd == nil:
				add("daemon", n.Name, "%s started on %s (pid %d)", d.Name, n.Name, d.PID)
			case pd.PID != d.PID:
				add("daemon", n.Name, "%s restarted on %s (pid %d)", d.Name, n.Name, d.PID)
			case pd.State != d.State:
				add("daemon", n.Name, "%s on %s is %s", d.Name, n.Name, d.State)
			}
			if pd != nil {
				for _, b := range d.Backends {
					for _, pb := range pd.Backends {
						if pb.Name == b.Name && pb.Health != b.Health {
							add("backend", n.Name, "%s on %s sees %s %s -> %s", d.Name, n.Name, b.Name, pb.Health, b.Health)
						}
					}
				}
			}
			for _, in := range d.VRRP {
				var was *VRRPInstance
				if pd != nil {
					was = findInstance(pd.VRRP, in.Name)
				}
				switch {
				case was == nil:
					add("vrrp", n.Name, "%s %s: %s (priority %d)", n.Name, in.Name, in.State, in.EffectivePriority)
				case was.State != in.State:
					add("vrrp", n.Name, "%s %s: %s -> %s (priority %d)", n.Name, in.Name, was.State, in.State, in.EffectivePriority)
				case was.EffectivePriority != in.EffectivePriority:
					add("vrrp", n.Name, "%s %s: priority %d -> %d", n.Name, in.Name, was.EffectivePriority, in.EffectivePriority)
				}
			}
		}
		for _, d := range p.Daemons {
			if findDaemon(n.Daemons, d.Name) == nil {
				add("daemon", n.Name, "%s on %s is gone (pid %d)", d.Name, n.Name, d.PID)
			}
		}
	}
	return out
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func findDaemon(ds []Daemon, name string) *Daemon {
	for i := range ds {
		if ds[i].Name == name {
			return &ds[i]
		}
	}
	return nil
}

func findInstance(in []VRRPInstance, name string) *VRRPInstance {
	for i := range in {
		if in[i].Name == name {
			return &in[i]
		}
	}
	return nil
}

// nodeVRRPState summarizes a node's VRRP role for the timeline lanes:
// MASTER if any instance is master, else the first instance's state, "down"
// when a VRRP daemon is stopped, and "" when the node runs none.
func nodeVRRPState(n *NodeState) string {
	state := ""
	for _, d := range n.Daemons {
		if d.Kind != "vrrp" {
			continue
		}
		if d.State == "stopped" {
			return "STOPPED"
		}
		for _, in := range d.VRRP {
			if in.State == "MASTER" {
				return "MASTER"
			}
			if state == "" {
				state = in.State
			}
		}
		if state == "" {
			state = "UNKNOWN"
		}
	}
	return state
}
