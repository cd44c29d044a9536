package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"halab/lab"
)

// Action is a fault or a repair asked for from the page (or by a scenario).
type Action struct {
	// Kind is one of: kill, term, stop, cont, restart (a daemon);
	// link_down, link_up (an interface); crash, return (a node);
	// block_vrrp, unblock_vrrp (between Node and Peer).
	Kind   string `json:"action"`
	Node   string `json:"node"`
	Daemon string `json:"daemon,omitempty"`
	Iface  string `json:"iface,omitempty"`
	Peer   string `json:"peer,omitempty"`
}

// String describes the action for the timeline.
func (a Action) String() string {
	switch a.Kind {
	case "kill", "term", "stop", "cont", "restart":
		return fmt.Sprintf("%s %s on %s", a.Kind, a.Daemon, a.Node)
	case "link_down", "link_up":
		return fmt.Sprintf("%s %s:%s", strings.ReplaceAll(a.Kind, "_", " "), a.Node, a.Iface)
	case "crash", "return":
		return fmt.Sprintf("%s node %s", a.Kind, a.Node)
	case "block_vrrp", "unblock_vrrp":
		return fmt.Sprintf("%s between %s and %s", strings.ReplaceAll(a.Kind, "_", " "), a.Node, a.Peer)
	}
	return a.Kind + " " + a.Node
}

// Faults injects faults into a lab. The scenarios package's fault engine
// is meant to implement it so the page and scenario steps share one; until
// then LabFaults is the implementation.
type Faults interface {
	Apply(ctx context.Context, a Action) error
}

// LabFaults injects faults with the lab API, /proc and nftables inside the
// nodes. It remembers the command lines of daemons it killed so restart and
// return can start them again.
type LabFaults struct {
	Lab *lab.Lab

	mu      sync.Mutex
	crashed map[string][]procCmd // node -> daemons killed by crash
}

// procCmd is how to start a process again.
type procCmd struct {
	name string
	argv []string
	env  []string
	dir  string
}

// NewLabFaults returns the lab's fault injector.
func NewLabFaults(l *lab.Lab) *LabFaults {
	return &LabFaults{Lab: l, crashed: map[string][]procCmd{}}
}

// Apply carries out a.
func (f *LabFaults) Apply(ctx context.Context, a Action) error {
	n, err := f.Lab.Node(a.Node)
	if err != nil {
		return err
	}
	switch a.Kind {
	case "kill":
		return f.signalDaemon(n, a.Daemon, syscall.SIGKILL)
	case "term":
		return f.signalDaemon(n, a.Daemon, syscall.SIGTERM)
	case "stop":
		return f.signalDaemon(n, a.Daemon, syscall.SIGSTOP)
	case "cont":
		return f.signalDaemon(n, a.Daemon, syscall.SIGCONT)
	case "restart":
		return f.restartDaemon(ctx, n, a.Daemon)
	case "link_down", "link_up":
		if a.Iface == "" {
			return errors.New("link: no interface")
		}
		return setLink(n, a.Iface, a.Kind == "link_up")
	case "crash":
		return f.crash(n)
	case "return":
		return f.returnNode(ctx, n)
	case "block_vrrp", "unblock_vrrp":
		peer, err := f.Lab.Node(a.Peer)
		if err != nil {
			return err
		}
		block := a.Kind == "block_vrrp"
		return errors.Join(vrrpFilter(ctx, n, peer, block), vrrpFilter(ctx, peer, n, block))
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// daemonPIDs returns the host PIDs of the named top-level daemon in a node.
func (f *LabFaults) daemonPIDs(node, name string) ([]int, error) {
	st, err := f.Lab.Status()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, ns := range st {
		if ns.Name != node {
			continue
		}
		for _, d := range newDaemonReader().read(ns.Name, ns.Processes, nil) {
			if d.Name == name {
				pids = append(pids, d.PID)
			}
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no %s runs on %s", name, node)
	}
	return pids, nil
}

func (f *LabFaults) signalDaemon(n *lab.Node, name string, sig syscall.Signal) error {
	pids, err := f.daemonPIDs(n.Name(), name)
	if err != nil {
		return err
	}
	var errs []error
	for _, pid := range pids {
		if err := signalPID(pid, sig); err != nil {
			errs = append(errs, fmt.Errorf("signal %s (pid %d): %w", name, pid, err))
		}
	}
	return errors.Join(errs...)
}

// signalPID signals through a pidfd, so never a recycled PID.
func signalPID(pid int, sig syscall.Signal) error {
	fd, err := pidfdOpen(pid)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return pidfdSignal(fd, sig)
}

func (f *LabFaults) restartDaemon(ctx context.Context, n *lab.Node, name string) error {
	pids, err := f.daemonPIDs(n.Name(), name)
	if err != nil {
		return err
	}
	var cmds []procCmd
	for _, pid := range pids {
		c, err := readCmd(pid, name)
		if err != nil {
			return err
		}
		cmds = append(cmds, c)
		_ = signalPID(pid, syscall.SIGCONT)
		_ = signalPID(pid, syscall.SIGTERM)
	}
	for _, pid := range pids {
		if !waitGone(ctx, pid, 5*time.Second) {
			_ = signalPID(pid, syscall.SIGKILL)
			waitGone(ctx, pid, 2*time.Second)
		}
	}
	return startCmds(ctx, n, cmds)
}

func startCmds(ctx context.Context, n *lab.Node, cmds []procCmd) error {
	var errs []error
	for _, c := range cmds {
		// Detach from the request's context: the daemon outlives it.
		if _, err := n.Start(context.WithoutCancel(ctx), lab.ProcSpec{Name: c.name, Args: c.argv, Env: c.env, Dir: c.dir}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readCmd reads how a process was started.
func readCmd(pid int, name string) (procCmd, error) {
	pi, ok := readProc(pid)
	if !ok {
		return procCmd{}, fmt.Errorf("pid %d is gone", pid)
	}
	c := procCmd{name: name, argv: pi.argv}
	if env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); err == nil {
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv != "" {
				c.env = append(c.env, kv)
			}
		}
	}
	if dir, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); err == nil {
		c.dir = dir
	}
	return c, nil
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// crash kills every process of the node (its init stays) and puts its
// interfaces down; the daemons are remembered for return.
func (f *LabFaults) crash(n *lab.Node) error {
	st, err := f.Lab.Status()
	if err != nil {
		return err
	}
	var cmds []procCmd
	for _, ns := range st {
		if ns.Name != n.Name() {
			continue
		}
		for _, d := range newDaemonReader().read(ns.Name, ns.Processes, nil) {
			if c, err := readCmd(d.PID, d.Name); err == nil {
				cmds = append(cmds, c)
			}
		}
		for _, p := range ns.Processes {
			_ = signalPID(p.PID, syscall.SIGKILL)
		}
	}
	f.mu.Lock()
	f.crashed[n.Name()] = append(f.crashed[n.Name()], cmds...)
	f.mu.Unlock()
	// A machine that dies loses the addresses its daemons added (VIPs).
	return errors.Join(f.setAllLinks(n, false), flushVIPs(n))
}

// flushVIPs removes the addresses the topology does not give the node.
func flushVIPs(n *lab.Node) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	var errs []error
	for _, ifc := range n.Spec().Interfaces {
		link, err := h.LinkByName(ifc.Name)
		if err != nil {
			continue
		}
		addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conf := configured(n.Spec(), ifc.Name)
		for _, a := range addrs {
			if a.IPNet == nil || !isVIP(a.IPNet.String(), conf) {
				continue
			}
			if err := h.AddrDel(link, &a); err != nil {
				errs = append(errs, fmt.Errorf("%s:%s del %s: %w", n.Name(), ifc.Name, a.IPNet, err))
			}
		}
	}
	return errors.Join(errs...)
}

// returnNode puts the interfaces up and starts the daemons crash killed.
func (f *LabFaults) returnNode(ctx context.Context, n *lab.Node) error {
	if err := f.setAllLinks(n, true); err != nil {
		return err
	}
	f.mu.Lock()
	cmds := f.crashed[n.Name()]
	delete(f.crashed, n.Name())
	f.mu.Unlock()
	return startCmds(ctx, n, cmds)
}

func (f *LabFaults) setAllLinks(n *lab.Node, up bool) error {
	var errs []error
	for _, ifc := range n.Spec().Interfaces {
		errs = append(errs, setLink(n, ifc.Name, up))
	}
	return errors.Join(errs...)
}

func setLink(n *lab.Node, iface string, up bool) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("%s:%s: %w", n.Name(), iface, err)
	}
	if up {
		err = h.LinkSetUp(link)
	} else {
		err = h.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("%s:%s %s: %w", n.Name(), iface, upDown(up), err)
	}
	return nil
}

var nftName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// vrrpFilter drops (or stops dropping) VRRP packets that n receives from
// peer's addresses, with an nftables table of its own inside n.
func vrrpFilter(ctx context.Context, n, peer *lab.Node, block bool) error {
	table := "halab_ui_vrrp_" + nftName.ReplaceAllString(peer.Name(), "_")
	if !block {
		_, _ = n.Run(ctx, "nft", "delete table inet "+table)
		return nil
	}
	var v4, v6 []string
	for _, ifc := range peer.Spec().Interfaces {
		for _, a := range ifc.Addresses {
			if a.Prefix.Addr().Is4() {
				v4 = append(v4, a.Prefix.Addr().String())
			} else {
				v6 = append(v6, a.Prefix.Addr().String())
			}
		}
	}
	cmd := fmt.Sprintf("add table inet %s; add chain inet %s input { type filter hook input priority -10; policy accept; }", table, table)
	if len(v4) > 0 {
		cmd += fmt.Sprintf("; add rule inet %s input ip saddr { %s } ip protocol vrrp drop", table, strings.Join(v4, ", "))
	}
	if len(v6) > 0 {
		cmd += fmt.Sprintf("; add rule inet %s input ip6 saddr { %s } meta l4proto vrrp drop", table, strings.Join(v6, ", "))
	}
	if out, err := n.Run(ctx, "nft", cmd); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", n.Name(), err, strings.TrimSpace(out))
	}
	return nil
}
