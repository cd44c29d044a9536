package ui

import (
	"net/netip"
	"slices"
	"time"

	"halab/faults"
	"halab/lab"
)

// State is one sample of a running lab.
type State struct {
	Lab   string      `json:"lab"`
	Seq   uint64      `json:"seq"`
	Time  time.Time   `json:"time"`
	Nodes []NodeState `json:"nodes"`
	// VIPs maps each virtual address seen to the nodes holding it (more
	// than one is a split brain).
	VIPs  map[string][]string `json:"vips"`
	Error string              `json:"error,omitempty"`
}

// NodeState is a node's live view.
type NodeState struct {
	Name       string           `json:"name"`
	Role       string           `json:"role"`
	Interfaces []IfaceState     `json:"interfaces"`
	VIPs       []string         `json:"vips"`
	Processes  []lab.ProcStatus `json:"processes"`
	Daemons    []Daemon         `json:"daemons"`
}

// IfaceState is an interface with its addresses split into the configured
// ones and the others (VIPs added by a VRRP daemon).
type IfaceState struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac"`
	Up        bool     `json:"up"`
	Addresses []string `json:"addresses"`
	VIPs      []string `json:"vips,omitempty"`
}

// Node returns the named node's state, or nil.
func (s *State) Node(name string) *NodeState {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i]
		}
	}
	return nil
}

// labView is what the server needs of a lab; *lab.Lab implements it, tests
// may fake it.
type labView interface {
	Name() string
	Topology() *lab.Topology
	Status() ([]lab.NodeStatus, error)
	Node(name string) (*lab.Node, error)
}

// collector samples a lab.
type collector struct {
	lab     labView
	daemons *daemonReader
}

func newCollector(l labView) *collector {
	d := newDaemonReader()
	d.backends = newBackendReader(l.Node)
	return &collector{lab: l, daemons: d}
}

// sample reads the lab's state now.
func (c *collector) sample() *State {
	st := &State{Lab: c.lab.Name(), Time: time.Now(), VIPs: map[string][]string{}}
	nodes, err := c.lab.Status()
	if err != nil {
		st.Error = err.Error()
		return st
	}
	topo := c.lab.Topology()
	for _, n := range nodes {
		spec, _ := topo.NodeSpec(n.Name)
		ns := NodeState{Name: n.Name, Role: n.Role, Processes: n.Processes}
		for _, ifc := range n.Interfaces {
			is := IfaceState{Name: ifc.Name, MAC: ifc.MAC, Up: ifc.Up}
			conf := faults.Configured(spec, ifc.Name)
			for _, a := range ifc.Addresses {
				if faults.IsVIP(a, conf) {
					is.VIPs = append(is.VIPs, a)
					ip := addrOnly(a)
					ns.VIPs = append(ns.VIPs, ip)
					if !slices.Contains(st.VIPs[ip], n.Name) {
						st.VIPs[ip] = append(st.VIPs[ip], n.Name)
					}
				} else {
					is.Addresses = append(is.Addresses, a)
				}
			}
			ns.Interfaces = append(ns.Interfaces, is)
		}
		ns.Daemons = c.daemons.read(n.Name, n.Processes, ns.VIPs)
		st.Nodes = append(st.Nodes, ns)
	}
	c.daemons.forget(nodes)
	return st
}

func addrOnly(cidr string) string {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Addr().String()
	}
	return cidr
}
