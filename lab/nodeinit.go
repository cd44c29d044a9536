package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A node is a light container: an init process started with its own net,
// uts, pid, ipc and mount namespaces. The init is this same binary re-executed
// with argv[0] = "halab-init"; the package's init function below catches it
// before main runs, so the `lab` CLI and any test binary that imports this
// package can build labs.
//
// As PID 1 of its pid namespace the init mounts /proc for that namespace,
// puts private tmpfs on /run, /var/log and /tmp, sets the hostname, brings
// up loopback, applies the node's sysctls, reaps every orphan and starts
// processes on request from its control socket (agent.go).

const initEnv = "HALAB_INIT_CONFIG"

// initConfig is what the host passes to a node init, in its environment.
type initConfig struct {
	Lab     string            `json:"lab"`
	Node    string            `json:"node"`
	Sysctls map[string]string `json:"sysctls"`
	// Binds are host directories under /run, /var/log or /tmp that the
	// node sees at the same path over its private tmpfs (halab's binaries
	// when they were built in such a place).
	Binds []string `json:"binds,omitempty"`
}

func init() {
	if len(os.Args) < 1 || os.Args[0] != initArg0 || os.Getenv(initEnv) == "" {
		return
	}
	// This runs on the main thread; it stays there, because the parent-death
	// signal (which kills the node if `lab up` dies before the node is
	// handed over) and the process name belong to the main thread.
	runtime.LockOSThread()
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(20)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(initArg0 + "\x00")[0])), 0, 0, 0)
	ready := os.NewFile(3, "ready")
	var cfg initConfig
	err := json.Unmarshal([]byte(os.Getenv(initEnv)), &cfg)
	if err == nil {
		_ = os.Unsetenv(initEnv)
		err = setupNode(cfg)
	}
	if err != nil {
		fmt.Fprintf(ready, "%s: %v", cfg.Node, err)
		os.Exit(1)
	}
	ln, err := listenAgent(socketPath(cfg.Lab, cfg.Node))
	if err != nil {
		fmt.Fprintf(ready, "%s: %v", cfg.Node, err)
		os.Exit(1)
	}
	_, _ = ready.WriteString("ok")
	_ = ready.Close()
	detach := make(chan chan error)
	go serveAgent(ln, detach)
	for done := range detach {
		// The lab is up: the node outlives the process that built it.
		// Only the main thread can clear its parent-death signal.
		done <- unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
	}
}

// setupNode prepares the namespaces the init was started in.
func setupNode(cfg initConfig) error {
	// Our mounts stay ours: nothing propagates back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// Drop our copies of named network namespaces (other labs', the host's):
	// held here, they would keep those namespaces alive after they are deleted.
	if err := unmountNsfs(); err != nil {
		return err
	}
	stateDir := StateDir(cfg.Lab)
	state, err := unix.Open(stateDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", stateDir, err)
	}
	var binds []int
	for _, b := range cfg.Binds {
		fd, err := unix.Open(b, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", b, err)
		}
		binds = append(binds, fd)
	}
	skel := dirSkeleton("/var/log", 2)
	for _, m := range []struct {
		dir  string
		mode string
	}{{"/run", "0755"}, {"/var/log", "0755"}, {"/tmp", "1777"}} {
		if err := unix.Mount("tmpfs", m.dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode="+m.mode+",size=64m"); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", m.dir, err)
		}
	}
	for _, d := range skel {
		if err := unix.Mkdir(d.path, d.mode); err == nil {
			_ = unix.Chmod(d.path, d.mode)
			_ = os.Lchown(d.path, d.uid, d.gid)
		}
	}
	_ = os.Mkdir("/run/lock", 0o1777)
	// The lab's state directory (logs, control sockets, shared files) is
	// visible at the same path as on the host.
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", state), stateDir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", stateDir, err)
	}
	_ = unix.Close(state)
	for i, b := range cfg.Binds {
		if err := os.MkdirAll(b, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", binds[i]), b, "", unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("bind %s: %w", b, err)
		}
		_ = unix.Close(binds[i])
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// sysfs shows the node's own network devices; not fatal where refused.
	_ = unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
	host := cfg.Node
	if host == switchNode {
		host = cfg.Lab + "-lans"
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return applySysctls(cfg.Sysctls)
}

// applySysctls writes net.* sysctls in sorted order ("all" before interface keys).
func applySysctls(s map[string]string) error {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(s[k]), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, s[k], err)
		}
	}
	return nil
}

func unmountNsfs() error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint options... - fstype source superopts
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "nsfs" && len(fields) > 4 {
				targets = append(targets, unescapeMount(fields[4]))
			}
		}
	}
	for _, t := range targets {
		if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", t, err)
		}
	}
	return sc.Err()
}

// unescapeMount decodes the octal escapes of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

type skelDir struct {
	path     string
	mode     uint32
	uid, gid int
}

// dirSkeleton lists the directories under root (to depth levels) with their
// modes and owners, so a fresh tmpfs can look like a fresh host's /var/log
// (daemons such as nginx expect /var/log/nginx to exist).
func dirSkeleton(root string, depth int) []skelDir {
	var out []skelDir
	base := strings.Count(root, "/")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == root {
			return nil
		}
		if strings.Count(p, "/")-base > depth {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		out = append(out, skelDir{path: p, mode: st.Mode & 0o7777, uid: int(st.Uid), gid: int(st.Gid)})
		return nil
	})
	return out
}
