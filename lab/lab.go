// Package lab builds network labs from topology files: each node a light
// container (own net, uts, pid, ipc and mount namespaces, private /run,
// /var/log and /tmp, its own hostname), LANs as bridges in a switch
// namespace, veth links, addresses, routes and sysctls. Nothing of a lab is
// created in the host's network namespace, and Down removes everything,
// even after the process that brought the lab up was killed.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRoot is returned when the caller lacks the privileges a lab needs.
var ErrNotRoot = errors.New("lab: must run as root (network, pid and mount namespaces need CAP_SYS_ADMIN); nothing was created")

// Lab is a running lab.
type Lab struct {
	name  string
	topo  *Topology
	nodes map[string]*Node
	log   *slog.Logger

	// inits are the node init processes this process started; it must reap them.
	inits []*exec.Cmd
	// procs are the processes started from the topology's run entries.
	procs []*Process
}

// Node is a node of a running lab.
type Node struct {
	lab     *Lab
	name    string
	spec    NodeSpec
	initPID int
	socket  string
}

// Option configures Up.
type Option func(*upOptions)

type upOptions struct {
	log      *slog.Logger
	binDir   string
	noRun    bool
	afterNet func() // test hook: called once the network is built
}

// WithLogger sets the logger for lab events.
func WithLogger(l *slog.Logger) Option { return func(o *upOptions) { o.log = l } }

// WithBinDir puts dir first on the PATH of the topology's run entries, so
// halab's own binaries (labapp, vrrpd, proxyd, lbd) are found by name.
func WithBinDir(dir string) Option { return func(o *upOptions) { o.binDir = dir } }

// WithoutRun skips the topology's run entries.
func WithoutRun() Option { return func(o *upOptions) { o.noRun = true } }

// state is /run/halab/<lab>/state.json.
type state struct {
	Name    string         `json:"name"`
	Status  string         `json:"status"` // "building" or "up"
	Created time.Time      `json:"created"`
	Inits   map[string]int `json:"inits"`
}

// Up builds the lab and returns once every node is up and configured. On
// failure everything created so far is removed.
func Up(ctx context.Context, t *Topology, opts ...Option) (l *Lab, err error) {
	o := upOptions{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	dir := StateDir(t.Name)
	if err := os.MkdirAll(StateRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", StateRoot, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lab %q is already up (or was left behind by a crash): run `lab down %s` first", t.Name, t.Name)
		}
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	l = &Lab{name: t.Name, topo: t, nodes: map[string]*Node{}, log: o.log}
	defer func() {
		if err != nil {
			if derr := l.Down(context.WithoutCancel(ctx)); derr != nil {
				err = errors.Join(err, fmt.Errorf("clean up: %w", derr))
			}
			l = nil
		}
	}()
	// The topology is written before anything else exists: `lab down` of a
	// crashed `lab up` derives every name it must remove from it.
	for _, d := range []string{"nodes", "logs", "files"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return l, err
		}
	}
	if err := writeTopology(dir, t); err != nil {
		return l, err
	}
	st := state{Name: t.Name, Status: "building", Created: time.Now(), Inits: map[string]int{}}
	if err := writeJSON(filepath.Join(dir, "state.json"), st); err != nil {
		return l, err
	}
	if err := l.startInits(ctx, hiddenDirs(o.binDir)); err != nil {
		return l, err
	}
	for name, n := range l.nodes {
		st.Inits[name] = n.initPID
	}
	if err := writeJSON(filepath.Join(dir, "state.json"), st); err != nil {
		return l, err
	}
	if err := l.nameNetns(); err != nil {
		return l, err
	}
	if err := l.buildNetwork(ctx); err != nil {
		return l, err
	}
	if o.afterNet != nil {
		o.afterNet()
	}
	if !o.noRun {
		if err := l.startRunEntries(ctx, o.binDir); err != nil {
			return l, err
		}
	}
	for name, n := range l.nodes {
		if err := agentDetach(n.socket); err != nil {
			return l, fmt.Errorf("hand over node %s: %w", name, err)
		}
	}
	st.Status = "up"
	if err := writeJSON(filepath.Join(dir, "state.json"), st); err != nil {
		return l, err
	}
	o.log.Info("lab up", "lab", t.Name, "nodes", len(t.Nodes))
	return l, nil
}

func writeTopology(dir string, t *Topology) error {
	b, err := t.Marshal()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "topology.yaml"), b)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// privateDirs are the host directories a node has its own tmpfs over.
var privateDirs = []string{"/run", "/var/log", "/tmp"}

// hiddenDirs returns dir (absolute) when a node's private tmpfs would hide
// it, so the node init binds it back in at the same path.
func hiddenDirs(dir string) []string {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	for _, p := range privateDirs {
		if abs == p || strings.HasPrefix(abs, p+"/") {
			return []string{abs}
		}
	}
	return nil
}

// nodeSysctls are applied in every node before its links exist.
func nodeSysctls(spec NodeSpec) map[string]string {
	s := map[string]string{
		// No duplicate address detection: addresses are usable at once.
		"net.ipv6.conf.all.accept_dad":     "0",
		"net.ipv6.conf.default.accept_dad": "0",
	}
	hasV6 := false
	for _, i := range spec.Interfaces {
		for _, a := range i.Addresses {
			hasV6 = hasV6 || a.Prefix.Addr().Is6()
		}
	}
	if !hasV6 {
		// Without IPv6 addresses, no router solicitations or MLD reports
		// clutter the traces.
		s["net.ipv6.conf.default.disable_ipv6"] = "1"
		s["net.ipv6.conf.all.disable_ipv6"] = "1"
	}
	return s
}

// startInits starts the switch's and every node's init, in parallel.
func (l *Lab) startInits(ctx context.Context, binds []string) error {
	type started struct {
		name  string
		cmd   *exec.Cmd
		ready *os.File
	}
	specs := append([]NodeSpec{{Name: switchNode}}, l.topo.Nodes...)
	var all []started
	var errs []error
	for _, spec := range specs {
		sys := nodeSysctls(spec)
		if spec.Name == switchNode {
			sys = map[string]string{"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
		}
		for k, v := range spec.Sysctls {
			sys[k] = v
		}
		cmd, ready, err := l.spawnInit(initConfig{Lab: l.name, Node: spec.Name, Sysctls: sys, Binds: binds})
		if err != nil {
			errs = append(errs, err)
			break
		}
		l.inits = append(l.inits, cmd)
		all = append(all, started{spec.Name, cmd, ready})
	}
	for _, s := range all {
		msg, _ := io.ReadAll(s.ready)
		s.ready.Close()
		if string(msg) != "ok" {
			if len(msg) == 0 {
				msg = []byte(s.name + ": init exited before it was ready; see " + filepath.Join(LogDir(l.name, s.name), "init.log"))
			}
			errs = append(errs, fmt.Errorf("start node %s", msg))
			continue
		}
		spec, _ := l.topo.NodeSpec(s.name)
		l.nodes[s.name] = &Node{lab: l, name: s.name, spec: spec, initPID: s.cmd.Process.Pid, socket: socketPath(l.name, s.name)}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (l *Lab) spawnInit(ic initConfig) (*exec.Cmd, *os.File, error) {
	node := ic.Node
	cfg, err := json.Marshal(ic)
	if err != nil {
		return nil, nil, err
	}
	logDir := LogDir(l.name, node)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, nil, err
	}
	logf, err := os.OpenFile(filepath.Join(logDir, "init.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer w.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initArg0, l.name, node},
		Env:        []string{initEnv + "=" + string(cfg), defaultPath},
		Dir:        "/",
		Stdout:     logf,
		Stderr:     logf,
		ExtraFiles: []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC,
			Setsid:     true,
			// Until Up hands the node over (detach), the node dies with the
			// thread that started it: a killed `lab up` leaves no orphan
			// caught between fork and exec, where `lab down` cannot see it.
			Pdeathsig: unix.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		return nil, nil, fmt.Errorf("start node %s: %w", node, err)
	}
	go func() { _ = cmd.Wait() }()
	return cmd, r, nil
}

// nameNetns makes each node's network namespace an `ip netns` name.
func (l *Lab) nameNetns() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return err
	}
	for name, n := range l.nodes {
		path := NetnsPath(l.name, name)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("name network namespace %s: %w", path, err)
		}
		f.Close()
		if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/net", n.initPID), path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", path, err)
		}
	}
	return nil
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.name }

// Topology is the lab's topology.
func (l *Lab) Topology() *Topology { return l.topo }

// Dir is the lab's state directory, /run/halab/<lab>.
func (l *Lab) Dir() string { return StateDir(l.name) }

// SharedDir is a host directory visible at the same path in every node:
// the place for binaries and config files that nodes read.
func (l *Lab) SharedDir() string { return SharedDirPath(l.name) }

// Node returns a node by name.
func (l *Lab) Node(name string) (*Node, error) {
	n, ok := l.nodes[name]
	if !ok || name == switchNode {
		return nil, fmt.Errorf("lab %s has no node %q (nodes: %s)", l.name, name, strings.Join(l.NodeNames(), ", "))
	}
	return n, nil
}

// MustNode returns a node by name and panics if there is none; for tests.
func (l *Lab) MustNode(name string) *Node {
	n, err := l.Node(name)
	if err != nil {
		panic(err)
	}
	return n
}

// NodeNames lists the nodes in topology order.
func (l *Lab) NodeNames() []string {
	var out []string
	for _, n := range l.topo.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// Processes are the processes started from the topology's run entries.
func (l *Lab) Processes() []*Process { return slices.Clone(l.procs) }

// Name is the node's name (and hostname).
func (n *Node) Name() string { return n.name }

// Spec is the node's topology entry.
func (n *Node) Spec() NodeSpec { return n.spec }

// InitPID is the host PID of the node's init (PID 1 inside the node).
func (n *Node) InitPID() int { return n.initPID }

// NetNSPath is /run/netns/<lab>-<node>.
func (n *Node) NetNSPath() string { return NetnsPath(n.lab.name, n.name) }

// LogDir is the directory of this node's process logs on the host.
func (n *Node) LogDir() string { return LogDir(n.lab.name, n.name) }

func (l *Lab) startRunEntries(ctx context.Context, binDir string) error {
	env := []string{defaultPath, "HOME=/root", "LANG=C.UTF-8"}
	if binDir != "" {
		env[0] = "PATH=" + binDir + ":" + strings.TrimPrefix(defaultPath, "PATH=")
	}
	for _, spec := range l.topo.Nodes {
		for _, r := range spec.Run {
			p, err := l.nodes[spec.Name].Start(ctx, ProcSpec{Name: r.Name, Args: r.Cmd, Env: env})
			if err != nil {
				return err
			}
			l.procs = append(l.procs, p)
		}
	}
	return nil
}

// Open attaches to a lab that is up, for commands such as `lab exec`.
func Open(name string) (*Lab, error) {
	dir := StateDir(name)
	t, err := LoadTopology(filepath.Join(dir, "topology.yaml"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no lab %q is up", name)
		}
		return nil, err
	}
	l := &Lab{name: name, topo: t, nodes: map[string]*Node{}, log: slog.New(slog.DiscardHandler)}
	inits := findInits(name)
	for _, spec := range t.Nodes {
		pid, ok := inits[spec.Name]
		if !ok {
			return nil, fmt.Errorf("lab %s: node %s is not running; run `lab down %s`", name, spec.Name, name)
		}
		l.nodes[spec.Name] = &Node{lab: l, name: spec.Name, spec: spec, initPID: pid, socket: socketPath(name, spec.Name)}
	}
	return l, nil
}

// List names the labs that have state under /run/halab.
func List() ([]string, error) {
	ents, err := os.ReadDir(StateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Down tears the lab down.
func (l *Lab) Down(ctx context.Context) error {
	for _, p := range l.procs {
		_ = p.Signal(unix.SIGKILL)
	}
	err := Down(ctx, l.name)
	return err
}

// Down removes every trace of the named lab: its processes, namespaces,
// links, mounts and state. It is idempotent and works after `lab up` was
// killed at any point.
func Down(ctx context.Context, name string) error {
	if !labNameRe.MatchString(name) {
		return fmt.Errorf("bad lab name %q", name)
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	var errs []error
	// 1. Kill every node init: killing PID 1 of a pid namespace kills all
	// the node's processes; the namespaces go when their last holder does.
	status := labStatus(name)
	inits := killInits(ctx, name)
	crashed := status == "building" || (status == "" && len(inits) > 0)
	// A node forked by a `lab up` that was killed at that moment may exec
	// its init only now, when /proc first shows it as one: after a crash
	// during Up, keep looking until none has shown for 300 ms.
	if crashed {
		quiet := time.Now()
		for time.Since(quiet) < 300*time.Millisecond && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			if more := killInits(ctx, name); len(more) > 0 {
				maps.Copy(inits, more)
				quiet = time.Now()
			}
		}
	}
	// 2. Remove the `ip netns` names. Names come from the saved topology,
	// so a crash half way leaves nothing we cannot find.
	nodes := []string{switchNode}
	if t, err := LoadTopology(filepath.Join(StateDir(name), "topology.yaml")); err == nil {
		for _, n := range t.Nodes {
			nodes = append(nodes, n.Name)
		}
	}
	for node := range inits {
		if !slices.Contains(nodes, node) {
			nodes = append(nodes, node)
		}
	}
	for _, node := range nodes {
		path := NetnsPath(name, node)
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", path, err))
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// 3. State, logs and sockets.
	if err := os.RemoveAll(StateDir(name)); err != nil {
		errs = append(errs, err)
	}
	_ = os.Remove(StateRoot) // only when empty
	return errors.Join(errs...)
}

// labStatus is the status in the lab's state file ("building" while Up
// runs, "up" once it finished), or "" without one.
func labStatus(name string) string {
	b, err := os.ReadFile(filepath.Join(StateDir(name), "state.json"))
	if err != nil {
		return ""
	}
	var st state
	if json.Unmarshal(b, &st) != nil {
		return "building"
	}
	return st.Status
}

// killInits SIGKILLs the lab's node inits and waits until they are gone.
func killInits(ctx context.Context, name string) map[string]int {
	inits := findInits(name)
	var waiting []int
	for _, pid := range inits {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err == nil {
			waiting = append(waiting, fd)
		} else {
			unix.Close(fd)
		}
	}
	for _, fd := range waiting {
		waitPidfd(ctx, fd)
		unix.Close(fd)
	}
	return inits
}

// waitPidfd waits until the process behind fd has exited.
func waitPidfd(ctx context.Context, fd int) {
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
			return
		}
	}
}

// findInits finds the init processes of a lab by their command line
// (halab-init LAB NODE), returning node name -> host PID.
func findInits(name string) map[string]int {
	out := map[string]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid := 0
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid <= 0 {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 3 && args[0] == initArg0 && args[1] == name {
			out[args[2]] = pid
		}
	}
	return out
}
