package ui

import (
	"slices"
	"strconv"
	"strings"

	"halab/faults"
	"halab/lab"
	"halab/vrrpd"
)

// Daemon is a top-level daemon process of a node (workers and children of
// a daemon are folded into it).
type Daemon struct {
	Name    string         `json:"name"` // vrrpd, keepalived, proxyd, nginx, lbd, haproxy, labapp
	Kind    string         `json:"kind"` // vrrp, proxy, balancer, app
	PID     int            `json:"pid"`
	NodePID int            `json:"node_pid"`
	State   string         `json:"state"` // running or stopped (SIGSTOP)
	VRRP    []VRRPInstance `json:"vrrp,omitempty"`
	// Backends would hold each backend's health as the daemon sees it;
	// our daemons do not publish it in a form read here yet.
	Backends []Backend `json:"backends,omitempty"`
}

// VRRPInstance is one vrrp_instance as a daemon runs it.
type VRRPInstance struct {
	Name              string   `json:"name"`
	Interface         string   `json:"interface"`
	VRID              int      `json:"vrid"`
	State             string   `json:"state"` // MASTER, BACKUP, FAULT, INIT
	Priority          int      `json:"priority"`
	EffectivePriority int      `json:"effective_priority"`
	Master            string   `json:"master,omitempty"`
	VIPs              []string `json:"vips"`
	// Inferred is set when the state is guessed from VIP presence
	// (keepalived publishes no status file).
	Inferred bool `json:"inferred,omitempty"`
}

// Backend is a server of a proxy or balancer with its health.
type Backend struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	Health string `json:"health"`
}

// daemonKinds maps process names to daemon kinds; a crash from the page
// remembers these daemons to start them again on return.
var daemonKinds = map[string]string{
	"vrrpd": "vrrp", "keepalived": "vrrp",
	"proxyd": "proxy", "nginx": "proxy",
	"lbd": "balancer", "haproxy": "balancer",
	"labapp": "app",
}

// daemonReader turns a node's processes into daemons, caching parsed
// keepalived configurations per process.
type daemonReader struct {
	kaConf   map[int]*vrrpd.Config // keepalived PID -> its configuration
	backends *backendReader        // nil: backends are not read
}

func newDaemonReader() *daemonReader { return &daemonReader{kaConf: map[int]*vrrpd.Config{}} }

// read lists the daemons among a node's processes; vips are its VIPs.
func (r *daemonReader) read(node string, procs []lab.ProcStatus, vips []string) []Daemon {
	var out []Daemon
	for _, pi := range faults.TopLevel(procs) {
		kind, known := daemonKinds[pi.Name]
		if !known {
			continue
		}
		d := Daemon{Name: pi.Name, Kind: kind, PID: pi.PID, NodePID: pi.NodePID, State: "running"}
		if pi.Stopped() {
			d.State = "stopped"
		}
		switch pi.Name {
		case "vrrpd":
			d.VRRP = vrrpdInstances(pi)
		case "keepalived":
			d.VRRP = r.keepalivedInstances(pi, vips)
		case "lbd", "haproxy":
			d.Backends = r.backends.get(node, pi)
		}
		out = append(out, d)
	}
	return out
}

// forget drops cached configurations of processes that are gone.
func (r *daemonReader) forget(nodes []lab.NodeStatus) {
	alive := map[int]bool{}
	for _, n := range nodes {
		for _, p := range n.Processes {
			alive[p.PID] = true
		}
	}
	for pid := range r.kaConf {
		if !alive[pid] {
			delete(r.kaConf, pid)
		}
	}
	if r.backends != nil {
		r.backends.forget(alive)
	}
}

// flagValue returns the value of a flag given as "-f X", "--f X" or
// "--f=X", for any of names.
func flagValue(argv []string, names ...string) (string, bool) {
	for i, a := range argv {
		for _, n := range names {
			if a == n && i+1 < len(argv) {
				return argv[i+1], true
			}
			if v, ok := strings.CutPrefix(a, n+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// inRoot resolves a path as the process sees it (its mount namespace).
func inRoot(pid int, path string) string {
	return "/proc/" + strconv.Itoa(pid) + "/root" + path
}

// vrrpdInstances reads vrrpd's status file (--status-file, default
// /run/vrrpd/status.json, inside the node).
func vrrpdInstances(pi faults.Proc) []VRRPInstance {
	path, ok := flagValue(pi.Argv, "--status-file", "-status-file")
	if !ok {
		path = vrrpd.DefaultStatusFile
	}
	if path == "" {
		return nil
	}
	st, err := vrrpd.ReadStatus(inRoot(pi.PID, path))
	if err != nil {
		return nil
	}
	var out []VRRPInstance
	for _, in := range st.Instances {
		v := VRRPInstance{Name: in.Name, Interface: in.Interface, VRID: in.VRID, State: in.State,
			Priority: in.ConfiguredPriority, EffectivePriority: in.EffectivePriority, Master: in.Master}
		for _, a := range in.VIPs {
			v.VIPs = append(v.VIPs, addrOnly(a))
		}
		out = append(out, v)
	}
	return out
}

// keepalivedInstances infers keepalived's instance states from VIP
// presence: MASTER when the node holds every VIP of the instance.
func (r *daemonReader) keepalivedInstances(pi faults.Proc, vips []string) []VRRPInstance {
	cfg, ok := r.kaConf[pi.PID]
	if !ok {
		path, found := flagValue(pi.Argv, "-f", "--use-file")
		if !found {
			path = "/etc/keepalived/keepalived.conf"
		}
		c, _, err := vrrpd.LoadConfig(inRoot(pi.PID, path))
		if err != nil {
			c = nil
		}
		r.kaConf[pi.PID] = c
		cfg = c
	}
	if cfg == nil {
		return nil
	}
	var out []VRRPInstance
	for _, in := range cfg.Instances {
		v := VRRPInstance{Name: in.Name, Interface: in.Interface, VRID: in.VRID, Priority: in.Priority,
			EffectivePriority: in.Priority, Inferred: true, State: "BACKUP"}
		held := len(in.VIPs) > 0
		for _, vip := range in.VIPs {
			a := vip.Prefix.Addr().String()
			v.VIPs = append(v.VIPs, a)
			if !slices.Contains(vips, a) {
				held = false
			}
		}
		if held {
			v.State = "MASTER"
		}
		out = append(out, v)
	}
	return out
}
