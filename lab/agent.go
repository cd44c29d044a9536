package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The node init's control socket. A client sends one request with its
// stdin, stdout and stderr as SCM_RIGHTS; the init forks the command inside
// the node and replies with the node-local PID and a pidfd (so the client
// can signal the process and learn its host PID), then, on the same
// connection, with the wait status when the process ends. The init reaps
// every process of its pid namespace.

type agentRequest struct {
	// Op is "start" (the default) or "detach": the node no longer dies
	// with the process that started it.
	Op   string   `json:"op,omitempty"`
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	// TTY makes stdin (a pty slave) the controlling terminal.
	TTY bool `json:"tty,omitempty"`
}

type agentReply struct {
	PID    int    `json:"pid,omitempty"`
	Error  string `json:"error,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status int    `json:"status"`
}

// defaultPath is the PATH of processes started in a node unless the request
// sets one.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func listenAgent(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	return ln, nil
}

// reaper reaps every child of the init and hands the wait status of the
// processes it started to their waiters.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus

	// detach asks the main thread to clear the parent-death signal.
	detach chan chan error
}

func (r *reaper) run() {
	sigc := make(chan os.Signal, 64)
	signal.Notify(sigc, unix.SIGCHLD)
	for range sigc {
		r.mu.Lock()
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if ch, ok := r.waiters[pid]; ok {
				ch <- ws
				delete(r.waiters, pid)
			}
		}
		r.mu.Unlock()
	}
}

func serveAgent(ln *net.UnixListener, detach chan chan error) {
	r := &reaper{waiters: map[int]chan unix.WaitStatus{}, detach: detach}
	go r.run()
	// Signals sent to PID 1 from inside the node are caught and dropped, as
	// for a container's init; the host stops a node with SIGKILL. (Caught,
	// not ignored: an ignored signal would stay ignored in every child.)
	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGPIPE, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for range sigc {
		}
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			continue
		}
		go r.serve(c)
	}
}

func (r *reaper) serve(c *net.UnixConn) {
	defer c.Close()
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	fds, _ := parseRights(oob[:oobn])
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	var req agentRequest
	reply := func(rep agentReply, rights []byte) {
		b, _ := json.Marshal(rep)
		_, _, _ = c.WriteMsgUnix(b, rights, nil)
	}
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		reply(agentReply{Error: "bad request: " + err.Error()}, nil)
		return
	}
	if req.Op == "detach" {
		done := make(chan error, 1)
		r.detach <- done
		if err := <-done; err != nil {
			reply(agentReply{Error: "detach: " + err.Error()}, nil)
			return
		}
		reply(agentReply{}, nil)
		return
	}
	if len(fds) != 3 || len(req.Args) == 0 {
		reply(agentReply{Error: "bad request: need a command and 3 descriptors"}, nil)
		return
	}
	pid, pidfd, ch, err := r.start(req, fds)
	if err != nil {
		reply(agentReply{Error: err.Error()}, nil)
		return
	}
	reply(agentReply{PID: pid}, unix.UnixRights(pidfd))
	_ = unix.Close(pidfd)
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
	fds = nil
	ws := <-ch
	reply(agentReply{Exited: true, Status: int(ws)}, nil)
}

func (r *reaper) start(req agentRequest, fds []int) (pid, pidfd int, ch chan unix.WaitStatus, err error) {
	env := req.Env
	if len(env) == 0 {
		env = []string{defaultPath, "HOME=/root", "LANG=C.UTF-8"}
	}
	path, err := lookPath(req.Args[0], env)
	if err != nil {
		return 0, 0, nil, err
	}
	pidfd = -1
	attr := &syscall.ProcAttr{
		Dir:   req.Dir,
		Env:   env,
		Files: []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: req.TTY, Ctty: 0, PidFD: &pidfd},
	}
	// Hold the reaper until the child is registered, so its status cannot
	// be collected before anyone waits for it.
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err = syscall.ForkExec(path, req.Args, attr)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("start %s: %w", req.Args[0], err)
	}
	ch = make(chan unix.WaitStatus, 1)
	r.waiters[pid] = ch
	return pid, pidfd, ch, nil
}

// lookPath resolves a command against the PATH of the request's environment.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := strings.TrimPrefix(defaultPath, "PATH=")
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in $PATH", file)
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

// agentStart asks a node's init to start a command with the given stdio.
// It returns the node-local PID, a pidfd and the connection on which the
// exit status will arrive.
func agentStart(sock string, req agentRequest, stdio [3]*os.File) (int, int, *net.UnixConn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("connect to node: %w", err)
	}
	b, err := json.Marshal(req)
	if err != nil {
		c.Close()
		return 0, 0, nil, err
	}
	rights := unix.UnixRights(int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()))
	if _, _, err := c.WriteMsgUnix(b, rights, nil); err != nil {
		c.Close()
		return 0, 0, nil, fmt.Errorf("send to node: %w", err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		c.Close()
		return 0, 0, nil, fmt.Errorf("read from node: %w", err)
	}
	var rep agentReply
	if err := json.Unmarshal(buf[:n], &rep); err != nil {
		c.Close()
		return 0, 0, nil, fmt.Errorf("bad reply from node: %w", err)
	}
	if rep.Error != "" {
		c.Close()
		return 0, 0, nil, errors.New(rep.Error)
	}
	fds, _ := parseRights(oob[:oobn])
	if len(fds) != 1 {
		c.Close()
		return 0, 0, nil, errors.New("node sent no pidfd")
	}
	return rep.PID, fds[0], c, nil
}

// agentDetach tells a node's init that the lab is up: it must no longer
// die with the process that started it.
func agentDetach(sock string) error {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return fmt.Errorf("connect to node: %w", err)
	}
	defer c.Close()
	b, _ := json.Marshal(agentRequest{Op: "detach"})
	if _, err := c.Write(b); err != nil {
		return err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	var rep agentReply
	if err := json.Unmarshal(buf[:n], &rep); err != nil || rep.Error != "" {
		return fmt.Errorf("detach refused: %s", rep.Error)
	}
	return nil
}

// agentWait reads the exit status from a start connection.
func agentWait(c *net.UnixConn) (unix.WaitStatus, error) {
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return 0, fmt.Errorf("lost the node while waiting: %w", err)
	}
	var rep agentReply
	if err := json.Unmarshal(buf[:n], &rep); err != nil || !rep.Exited {
		return 0, fmt.Errorf("bad exit report from node")
	}
	return unix.WaitStatus(rep.Status), nil
}
