package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcSpec describes a process to start inside a node.
type ProcSpec struct {
	// Name labels the process; its output goes to LogDir/<Name>.log unless
	// Stdout or Stderr are set. Defaults to the command's base name.
	Name string
	Args []string
	// Env replaces the default environment (PATH, HOME, LANG) when set.
	Env []string
	Dir string
	// Stdin, Stdout and Stderr, when set, replace /dev/null and the log.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TTY means Stdin is a pty slave that becomes the controlling terminal.
	TTY bool
}

// Process is a process running inside a node. Its PID is the host PID.
type Process struct {
	Name    string
	Node    string
	pid     int
	nodePID int
	pidfd   int

	done    chan struct{}
	status  unix.WaitStatus
	waitErr error
	copies  sync.WaitGroup
	closeMu sync.Mutex
}

// PID is the process's PID in the host's pid namespace.
func (p *Process) PID() int { return p.pid }

// NodePID is the process's PID as seen inside its node.
func (p *Process) NodePID() int { return p.nodePID }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process (through its pidfd, so never to a
// recycled PID).
func (p *Process) Signal(sig syscall.Signal) error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.pidfd < 0 {
		return os.ErrProcessDone
	}
	if err := unix.PidfdSendSignal(p.pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return os.ErrProcessDone
		}
		return fmt.Errorf("signal %s in %s: %w", p.Name, p.Node, err)
	}
	return nil
}

// Wait waits for the process to exit and returns its status. A non-zero
// exit or a death by signal is an *ExitError.
func (p *Process) Wait() error {
	<-p.done
	p.copies.Wait()
	if p.waitErr != nil {
		return p.waitErr
	}
	if p.status.Exited() && p.status.ExitStatus() == 0 {
		return nil
	}
	return &ExitError{Name: p.Name, Status: p.status}
}

// ExitCode is the exit code, 128+signal for a death by signal, or -1 while
// the process runs.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
	default:
		return -1
	}
	if p.status.Signaled() {
		return 128 + int(p.status.Signal())
	}
	return p.status.ExitStatus()
}

// Stop sends SIGTERM, then SIGKILL if the process has not exited when ctx
// is done or after 5 seconds, and waits for it.
func (p *Process) Stop(ctx context.Context) error {
	_ = p.Signal(unix.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.Signal(unix.SIGKILL)
	case <-t.C:
		_ = p.Signal(unix.SIGKILL)
	}
	<-p.done
	return nil
}

// ExitError reports a process that exited non-zero or was killed.
type ExitError struct {
	Name   string
	Status unix.WaitStatus
}

func (e *ExitError) Error() string {
	if e.Status.Signaled() {
		return fmt.Sprintf("%s: killed by signal %s", e.Name, e.Status.Signal())
	}
	return fmt.Sprintf("%s: exit status %d", e.Name, e.Status.ExitStatus())
}

// ExitCode is the shell-style exit code of the process.
func (e *ExitError) ExitCode() int {
	if e.Status.Signaled() {
		return 128 + int(e.Status.Signal())
	}
	return e.Status.ExitStatus()
}

// Start starts a process inside the node. Its standard output and error go
// to the node's log directory unless spec redirects them.
func (n *Node) Start(ctx context.Context, spec ProcSpec) (*Process, error) {
	if len(spec.Args) == 0 {
		return nil, errors.New("start: empty command")
	}
	if spec.Name == "" {
		spec.Name = filepath.Base(spec.Args[0])
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &Process{Name: spec.Name, Node: n.name, done: make(chan struct{}), pidfd: -1}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	var stdio [3]*os.File
	var err error
	var logFile *os.File
	openLog := func() (*os.File, error) {
		if logFile != nil {
			return logFile, nil
		}
		dir := LogDir(n.lab.name, n.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		logFile, err = os.OpenFile(filepath.Join(dir, spec.Name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			toClose = append(toClose, logFile)
		}
		return logFile, err
	}
	// stdin
	switch r := spec.Stdin.(type) {
	case nil:
		f, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		toClose = append(toClose, f)
		stdio[0] = f
	case *os.File:
		stdio[0] = r
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		toClose = append(toClose, pr)
		stdio[0] = pr
		go func() { _, _ = io.Copy(pw, r); pw.Close() }()
	}
	for i, w := range []io.Writer{spec.Stdout, spec.Stderr} {
		switch w := w.(type) {
		case nil:
			if stdio[i+1], err = openLog(); err != nil {
				return nil, fmt.Errorf("open log: %w", err)
			}
		case *os.File:
			stdio[i+1] = w
		default:
			pr, pw, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			toClose = append(toClose, pw)
			stdio[i+1] = pw
			p.copies.Add(1)
			go func() { defer p.copies.Done(); _, _ = io.Copy(w, pr); pr.Close() }()
		}
	}
	nodePID, pidfd, conn, err := agentStart(n.socket, agentRequest{Args: spec.Args, Env: spec.Env, Dir: spec.Dir, TTY: spec.TTY}, stdio)
	if err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", spec.Name, n.name, err)
	}
	p.nodePID, p.pidfd = nodePID, pidfd
	p.pid = pidOfPidfd(pidfd)
	go p.wait(conn)
	return p, nil
}

func (p *Process) wait(c *net.UnixConn) {
	p.status, p.waitErr = agentWait(c)
	c.Close()
	p.closeMu.Lock()
	_ = unix.Close(p.pidfd)
	p.pidfd = -1
	p.closeMu.Unlock()
	close(p.done)
}

// pidOfPidfd reads the host PID a pidfd refers to.
func pidOfPidfd(fd int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return 0
}

// Run runs a command inside the node to completion and returns its
// combined output. A non-zero exit is an *ExitError; the output is returned
// either way. Cancelling ctx kills the command.
func (n *Node) Run(ctx context.Context, args ...string) (string, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer pr.Close()
	p, err := n.Start(ctx, ProcSpec{Args: args, Stdout: pw, Stderr: pw})
	pw.Close()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&out, pr); close(copied) }()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.Signal(unix.SIGKILL)
	}
	err = p.Wait()
	// A daemon started by the command may keep the pipe open: do not wait
	// for it longer than a moment.
	select {
	case <-copied:
	case <-time.After(200 * time.Millisecond):
		pr.Close()
		<-copied
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return out.String(), err
}
