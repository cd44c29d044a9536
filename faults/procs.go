package faults

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"halab/lab"
)

// Proc is a process of a node as /proc describes it.
type Proc struct {
	PID, NodePID, PPID int
	// State is /proc's state letter (T or t: stopped).
	State byte
	Argv  []string
	// Name is the daemon name of Argv (see ProcName).
	Name string
}

// Stopped reports whether the process is stopped (SIGSTOP).
func (p Proc) Stopped() bool { return p.State == 'T' || p.State == 't' }

// ReadProc reads a process from /proc; false when it is gone.
func ReadProc(pid int) (Proc, bool) {
	pi := Proc{PID: pid}
	dir := "/proc/" + strconv.Itoa(pid)
	raw, err := os.ReadFile(dir + "/cmdline")
	if err != nil || len(raw) == 0 {
		return pi, false
	}
	pi.Argv = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	pi.Name = ProcName(pi.Argv)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return pi, false
	}
	// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 {
			pi.State = f[0][0]
			pi.PPID, _ = strconv.Atoi(f[1])
		}
	}
	return pi, true
}

// ProcName is the daemon name of a command line: the base name of argv[0],
// with nginx's "nginx: worker process" titles folded into "nginx".
func ProcName(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	name := filepath.Base(argv[0])
	name, _, _ = strings.Cut(name, ":")
	return strings.TrimSpace(name)
}

// TopLevel returns the top-level processes among a node's: a worker or
// child whose parent has its name is folded into the parent.
func TopLevel(procs []lab.ProcStatus) []Proc {
	infos := map[int]Proc{}
	for _, p := range procs {
		if pi, ok := ReadProc(p.PID); ok {
			pi.NodePID = p.NodePID
			infos[p.PID] = pi
		}
	}
	var out []Proc
	for _, p := range procs {
		pi, ok := infos[p.PID]
		if !ok {
			continue
		}
		if parent, ok := infos[pi.PPID]; ok && parent.Name == pi.Name {
			continue
		}
		out = append(out, pi)
	}
	return out
}

// Cmd is how to start a process again.
type Cmd struct {
	Name string
	Argv []string
	Env  []string
	Dir  string
}

// spec is the ProcSpec that starts c.
func (c Cmd) spec() lab.ProcSpec {
	return lab.ProcSpec{Name: c.Name, Args: c.Argv, Env: c.Env, Dir: c.Dir}
}

// readCmd reads how a process was started: command line, environment and
// working directory.
func readCmd(p Proc, name string) Cmd {
	c := Cmd{Name: name, Argv: p.Argv}
	dir := "/proc/" + strconv.Itoa(p.PID)
	if env, err := os.ReadFile(dir + "/environ"); err == nil {
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv != "" {
				c.Env = append(c.Env, kv)
			}
		}
	}
	if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
		c.Dir = cwd
	}
	return c
}

// signalPID signals through a pidfd, so never a recycled PID.
func signalPID(pid int, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// waitGone waits for a process to disappear, for at most d.
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
