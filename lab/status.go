package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NodeStatus is the live view of one node.
type NodeStatus struct {
	Name       string        `json:"name"`
	Role       string        `json:"role"`
	InitPID    int           `json:"init_pid"`
	Netns      string        `json:"netns"`
	Interfaces []IfaceStatus `json:"interfaces"`
	Processes  []ProcStatus  `json:"processes"`
	VRRP       []VRRPStatus  `json:"vrrp,omitempty"`
}

// VRRPStatus is one VRRP instance as the node's vrrpd reports it in its
// status file (/run/vrrpd/status.json inside the node).
type VRRPStatus struct {
	Name               string   `json:"name"`
	Interface          string   `json:"interface"`
	VRID               int      `json:"vrid"`
	State              string   `json:"state"`
	ConfiguredPriority int      `json:"configured_priority"`
	EffectivePriority  int      `json:"effective_priority"`
	Master             string   `json:"master,omitempty"`
	VIPs               []string `json:"vips"`
}

// vrrpStatusFile is where vrrpd publishes its status inside a node.
const vrrpStatusFile = "run/vrrpd/status.json"

// VRRP reads the node's VRRP status, if a vrrpd runs there. The node's
// private /run is reached through its init's root.
func (n *Node) VRRP() []VRRPStatus {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/%s", n.initPID, vrrpStatusFile))
	if err != nil {
		return nil
	}
	var doc struct {
		Instances []VRRPStatus `json:"instances"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return nil
	}
	return doc.Instances
}

// IfaceStatus is an interface of a node as the kernel reports it.
type IfaceStatus struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac"`
	Up        bool     `json:"up"`
	Addresses []string `json:"addresses"`
}

// ProcStatus is a process running in a node.
type ProcStatus struct {
	PID     int    `json:"pid"`      // host PID
	NodePID int    `json:"node_pid"` // PID inside the node
	Command string `json:"command"`
}

// Status reads the live state of every node.
func (l *Lab) Status() ([]NodeStatus, error) {
	procs := l.nodeProcesses()
	var out []NodeStatus
	for _, name := range l.NodeNames() {
		n := l.nodes[name]
		st := NodeStatus{Name: name, Role: n.spec.Role, InitPID: n.initPID, Netns: NetnsName(l.name, name), Processes: procs[n.initPID]}
		ifs, err := n.Interfaces()
		if err != nil {
			return nil, err
		}
		st.Interfaces = ifs
		st.VRRP = n.VRRP()
		out = append(out, st)
	}
	return out, nil
}

// Interfaces lists the node's interfaces (loopback excluded) with their
// addresses, VIPs included.
func (n *Node) Interfaces() ([]IfaceStatus, error) {
	h, err := n.Handle()
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.name, err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	var out []IfaceStatus
	for _, link := range links {
		a := link.Attrs()
		if a.Name == "lo" {
			continue
		}
		is := IfaceStatus{Name: a.Name, MAC: a.HardwareAddr.String(), Up: a.Flags&unix.IFF_UP != 0}
		addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return nil, err
		}
		for _, ad := range addrs {
			if ad.IP.IsLinkLocalUnicast() {
				continue
			}
			s := ad.IPNet.String()
			if ad.Label != "" && ad.Label != a.Name {
				s += " (" + ad.Label + ")"
			}
			is.Addresses = append(is.Addresses, s)
		}
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// nodeProcesses maps each node init's PID to the processes of its pid
// namespace (the init excluded), read from the host's /proc.
func (l *Lab) nodeProcesses() map[int][]ProcStatus {
	nsOf := map[string]int{}
	for _, n := range l.nodes {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", n.initPID)); err == nil {
			nsOf[link] = n.initPID
		}
	}
	out := map[int][]ProcStatus{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/" + e.Name() + "/ns/pid")
		if err != nil {
			continue
		}
		initPID, ok := nsOf[link]
		if !ok || pid == initPID {
			continue
		}
		out[initPID] = append(out[initPID], ProcStatus{PID: pid, NodePID: nodePIDOf(pid), Command: cmdline(pid)})
	}
	for _, ps := range out {
		sort.Slice(ps, func(i, j int) bool { return ps[i].NodePID < ps[j].NodePID })
	}
	return out
}

func nodePIDOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	return 0
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// WriteStatus prints the status as a readable table.
func WriteStatus(w io.Writer, lab string, nodes []NodeStatus) {
	fmt.Fprintf(w, "lab %s\n", lab)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tIFACE\tSTATE\tADDRESSES")
	for _, n := range nodes {
		for i, ifc := range n.Interfaces {
			name, role := n.Name, n.Role
			if i > 0 {
				name, role = "", ""
			}
			state := "down"
			if ifc.Up {
				state = "up"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, role, ifc.Name, state, strings.Join(ifc.Addresses, " "))
		}
		if len(n.Interfaces) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\n", n.Name, n.Role)
		}
	}
	tw.Flush()
	var vrrp bool
	for _, n := range nodes {
		vrrp = vrrp || len(n.VRRP) > 0
	}
	if vrrp {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tVRRP INSTANCE\tVRID\tSTATE\tPRIORITY\tMASTER\tVIPS")
		for _, n := range nodes {
			for _, v := range n.VRRP {
				fmt.Fprintf(tw, "%s\t%s (%s)\t%d\t%s\t%d (configured %d)\t%s\t%s\n", n.Name, v.Name, v.Interface, v.VRID, v.State, v.EffectivePriority, v.ConfiguredPriority, v.Master, strings.Join(v.VIPs, " "))
			}
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPID\tNODE-PID\tCOMMAND")
	for _, n := range nodes {
		for _, p := range n.Processes {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", n.Name, p.PID, p.NodePID, p.Command)
		}
	}
	tw.Flush()
}
