package ui

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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

// daemonKinds maps process names to daemon kinds.
var daemonKinds = map[string]string{
	"vrrpd": "vrrp", "keepalived": "vrrp",
	"proxyd": "proxy", "nginx": "proxy",
	"lbd": "balancer", "haproxy": "balancer",
	"labapp": "app",
}

// procInfo is what /proc says about a process.
type procInfo struct {
	pid, ppid int
	state     byte
	argv      []string
	name      string // daemon name from argv[0]
}

func readProc(pid int) (procInfo, bool) {
	pi := procInfo{pid: pid}
	dir := "/proc/" + strconv.Itoa(pid)
	raw, err := os.ReadFile(dir + "/cmdline")
	if err != nil || len(raw) == 0 {
		return pi, false
	}
	pi.argv = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	pi.name = procName(pi.argv)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return pi, false
	}
	// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 {
			pi.state = f[0][0]
			pi.ppid, _ = strconv.Atoi(f[1])
		}
	}
	return pi, true
}

// procName is the daemon name of a command line: the base name of argv[0],
// with nginx's "nginx: worker process" titles folded into "nginx".
func procName(argv []string) string {
	name := filepath.Base(argv[0])
	name, _, _ = strings.Cut(name, ":")
	return strings.TrimSpace(name)
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
	infos := map[int]procInfo{}
	for _, p := range procs {
		if pi, ok := readProc(p.PID); ok {
			infos[p.PID] = pi
		}
	}
	var out []Daemon
	for _, p := range procs {
		pi, ok := infos[p.PID]
		if !ok {
			continue
		}
		kind, known := daemonKinds[pi.name]
		if !known {
			continue
		}
		if parent, ok := infos[pi.ppid]; ok && parent.name == pi.name {
			continue // a worker or child of the same daemon
		}
		d := Daemon{Name: pi.name, Kind: kind, PID: p.PID, NodePID: p.NodePID, State: "running"}
		if pi.state == 'T' || pi.state == 't' {
			d.State = "stopped"
		}
		switch pi.name {
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
func vrrpdInstances(pi procInfo) []VRRPInstance {
	path, ok := flagValue(pi.argv, "--status-file", "-status-file")
	if !ok {
		path = vrrpd.DefaultStatusFile
	}
	if path == "" {
		return nil
	}
	st, err := vrrpd.ReadStatus(inRoot(pi.pid, path))
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
func (r *daemonReader) keepalivedInstances(pi procInfo, vips []string) []VRRPInstance {
	cfg, ok := r.kaConf[pi.pid]
	if !ok {
		path, found := flagValue(pi.argv, "-f", "--use-file")
		if !found {
			path = "/etc/keepalived/keepalived.conf"
		}
		c, _, err := vrrpd.LoadConfig(inRoot(pi.pid, path))
		if err != nil {
			c = nil
		}
		r.kaConf[pi.pid] = c
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
