package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// The parent process follows keepalived's: it runs no VRRP itself but
// starts the VRRP child, forwards SIGTERM/SIGINT (graceful stop) and SIGHUP
// (reload) to it, and respawns it when it dies unexpectedly. The child gets
// SIGTERM when the parent dies (parent-death signal), so even a SIGKILL of
// the parent ends in a graceful stop: priority 0 sent, addresses removed.

// stopGrace bounds the wait for the child's graceful stop; then it is killed.
const stopGrace = 10 * time.Second

// childSpec says how to start the VRRP child.
type childSpec struct {
	Path    string   // executable, the path the parent was started by
	Args    []string // argv, argv[0] included
	Env     []string
	PidFile string // the child's pid file, removed after an unexpected death
}

// supervisor runs the VRRP child and keeps it running.
type supervisor struct {
	spec    childSpec
	log     *slog.Logger
	starts  chan startReq
	backoff respawnBackoff

	child    *child           // nil while waiting to respawn
	stopping bool             // a stop signal was forwarded
	restart  <-chan time.Time // fires when the child is due to respawn
	killAt   <-chan time.Time // fires when a stopping child overstays
}

type startReq struct {
	cmd   *exec.Cmd
	reply chan error
}

// child is a running VRRP child.
type child struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when cmd.Wait returned
}

func newSupervisor(spec childSpec, log *slog.Logger) *supervisor {
	return &supervisor{spec: spec, log: log, starts: make(chan startReq)}
}

// starter starts every child from one locked OS thread. The kernel sends
// the parent-death signal when the thread that forked the child exits, not
// only when the process does, so that thread must live as long as the
// children: it stays locked (the Go runtime never reuses or ends it) until
// run closes starts after the last child has exited.
func (s *supervisor) starter() {
	runtime.LockOSThread()
	for req := range s.starts {
		req.reply <- req.cmd.Start()
	}
}

func (s *supervisor) start() (*child, error) {
	cmd := &exec.Cmd{Path: s.spec.Path, Args: s.spec.Args, Env: s.spec.Env,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}}
	reply := make(chan error, 1)
	s.starts <- startReq{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		return nil, fmt.Errorf("start VRRP child %s: %w", s.spec.Path, err)
	}
	c := &child{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	s.log.Info(fmt.Sprintf("Starting VRRP child process, pid=%d", cmd.Process.Pid))
	return c, nil
}

func (c *child) signal(sig syscall.Signal) {
	_ = c.cmd.Process.Signal(sig)
}

// run starts the child and supervises it until a stop signal arrives on
// sigs (SIGTERM or SIGINT; SIGHUP is forwarded) or the child exits with a
// permanent error. It returns the parent's exit code.
func (s *supervisor) run(sigs <-chan os.Signal) int {
	go s.starter()
	defer close(s.starts)
	var err error
	if s.child, err = s.start(); err != nil {
		s.log.Error(err.Error())
		return exitFatal
	}
	for {
		// A signal already queued wins over a child's exit: pkill reaches
		// the child and the parent at once and must not cause a respawn.
		select {
		case sig := <-sigs:
			if code, done := s.onSignal(sig); done {
				return code
			}
			continue
		default:
		}
		var exited chan struct{}
		if s.child != nil {
			exited = s.child.done
		}
		select {
		case sig := <-sigs:
			if code, done := s.onSignal(sig); done {
				return code
			}
		case <-exited:
			if code, done := s.onExit(); done {
				return code
			}
		case <-s.restart:
			s.restart = nil
			if s.child, err = s.start(); err != nil {
				s.log.Error(err.Error())
				return exitFatal
			}
		case <-s.killAt:
			s.killAt = nil
			s.log.Warn(fmt.Sprintf("VRRP child (PID %d) failed to terminate after %v, killing it", s.child.cmd.Process.Pid, stopGrace))
			s.child.signal(syscall.SIGKILL)
		}
	}
}

// onSignal handles a signal to the parent; done says the parent exits.
func (s *supervisor) onSignal(sig os.Signal) (code int, done bool) {
	if sig == syscall.SIGHUP {
		if s.child != nil {
			s.log.Info("Reloading", "pid", s.child.cmd.Process.Pid)
			s.child.signal(syscall.SIGHUP)
		}
		return 0, false
	}
	if s.child == nil { // waiting to respawn: nothing to stop
		s.log.Info("Stopped")
		return exitOK, true
	}
	if !s.stopping {
		s.stopping = true
		s.restart = nil
		s.log.Info("Stopping")
		s.child.signal(syscall.SIGTERM)
		s.killAt = time.After(stopGrace)
	}
	return 0, false
}

// onExit handles the child's exit: the end of a stop, a permanent error,
// or a death that calls for a respawn.
func (s *supervisor) onExit() (code int, done bool) {
	st := s.child.cmd.ProcessState
	ranFor := time.Since(s.child.started)
	s.child = nil
	if s.stopping {
		s.log.Info("Stopped")
		return exitOK, true
	}
	if code, permanent := s.report(st); permanent {
		return code, true
	}
	s.log.Error(fmt.Sprintf("VRRP child process(%d) died: Respawning", st.Pid()))
	if s.spec.PidFile != "" {
		_ = os.Remove(s.spec.PidFile)
	}
	d, limited := s.backoff.delay(ranFor)
	if limited {
		s.log.Info(fmt.Sprintf("Restart of VRRP process delayed %d seconds to limit respawn rate", int(d/time.Second)))
	}
	s.restart = time.After(d)
	return 0, false
}

// report logs how the child ended, as keepalived does, and says whether it
// is a permanent error (configuration or fatal exit) that stops the parent.
func (s *supervisor) report(st *os.ProcessState) (int, bool) {
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited() && (ws.ExitStatus() == exitFatal || ws.ExitStatus() == exitConfig):
		what := map[int]string{exitFatal: "FATAL", exitConfig: "CONFIG"}[ws.ExitStatus()]
		s.log.Error(fmt.Sprintf("VRRP child (pid %d) exited with permanent error %s. Terminating", st.Pid(), what))
		return ws.ExitStatus(), true
	case ws.Exited():
		s.log.Info(fmt.Sprintf("VRRP child (pid %d) exited with status %d", st.Pid(), ws.ExitStatus()))
	case ws.Signaled():
		s.log.Info(fmt.Sprintf("VRRP child (pid %d) exited due to signal %d (%v)", st.Pid(), int(ws.Signal()), ws.Signal()))
	}
	return 0, false
}

// respawnBackoff is keepalived's respawn rate limit: a child that ran for
// a minute or more restarts at once; otherwise the first restart is
// immediate and each further one waits 1, 2, 4 ... 32 s, then 60 s.
type respawnBackoff struct {
	next time.Duration
}

// delay returns how long to wait before restarting a child that ran for
// ranFor, and whether the rate limit applied (keepalived logs it then).
func (b *respawnBackoff) delay(ranFor time.Duration) (time.Duration, bool) {
	if ranFor >= time.Minute {
		b.next = 0
		return 0, false
	}
	d := b.next
	switch {
	case d == 0:
		b.next = time.Second
	case d > 30*time.Second:
		b.next = time.Minute
	default:
		b.next = 2 * d
	}
	return d, true
}
