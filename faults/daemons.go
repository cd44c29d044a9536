package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"halab/lab"
)

// Grace periods of a stop: TERM, then KILL.
const (
	stopGrace = 5 * time.Second
	killGrace = 2 * time.Second
)

// SignalByName maps a signal name (KILL or SIGKILL, any case) to its
// number; 0 when unknown.
func SignalByName(name string) syscall.Signal {
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "KILL":
		return syscall.SIGKILL
	case "TERM":
		return syscall.SIGTERM
	case "STOP":
		return syscall.SIGSTOP
	case "CONT":
		return syscall.SIGCONT
	case "HUP":
		return syscall.SIGHUP
	case "INT":
		return syscall.SIGINT
	case "QUIT":
		return syscall.SIGQUIT
	case "USR1":
		return syscall.SIGUSR1
	case "USR2":
		return syscall.SIGUSR2
	}
	return 0
}

// find lists the running top-level processes of a node with that name.
func (e *Engine) find(node, name string) ([]Proc, error) {
	st, err := e.lab.Status()
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, ns := range st {
		if ns.Name != node {
			continue
		}
		for _, p := range TopLevel(ns.Processes) {
			if p.Name == name {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// SignalDaemon signals a daemon of a node. A registered daemon must be
// running; otherwise every top-level process of that name is signalled
// (and, for KILL and TERM, its command line is remembered for StartDaemon).
func (e *Engine) SignalDaemon(ctx context.Context, node, name string, sig syscall.Signal) error {
	if sig == 0 {
		return errors.New("unknown signal")
	}
	if d, p := e.lookup(node, name); d != nil {
		if !alive(p) {
			return fmt.Errorf("daemon %s on %s is not running", name, node)
		}
		return p.Signal(sig)
	}
	procs, err := e.find(node, name)
	if err != nil {
		return err
	}
	if len(procs) == 0 {
		return fmt.Errorf("no %s runs on %s", name, node)
	}
	var errs []error
	for _, p := range procs {
		if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
			e.remember(node, name, readCmd(p, name))
		}
		if err := signalPID(p.PID, sig); err != nil {
			errs = append(errs, fmt.Errorf("signal %s (pid %d) on %s: %w", name, p.PID, node, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) remember(node, name string, c Cmd) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped[node+"/"+name] = c
}

// StopDaemon stops a daemon gracefully: CONT (a frozen daemon could not
// handle TERM), TERM, and KILL after a grace period. Stopping a daemon
// that does not run is no error when it is registered.
func (e *Engine) StopDaemon(ctx context.Context, node, name string) error {
	if d, p := e.lookup(node, name); d != nil {
		if !alive(p) {
			return nil
		}
		_ = p.Signal(syscall.SIGCONT)
		var ee *lab.ExitError
		if err := p.Stop(ctx); err != nil && !errors.As(err, &ee) {
			return fmt.Errorf("stop %s on %s: %w", name, node, err)
		}
		return nil // stopped by a signal or exited non-zero: stopped all the same
	}
	procs, err := e.find(node, name)
	if err != nil {
		return err
	}
	if len(procs) == 0 {
		return fmt.Errorf("no %s runs on %s", name, node)
	}
	for _, p := range procs {
		e.remember(node, name, readCmd(p, name))
		_ = signalPID(p.PID, syscall.SIGCONT)
		_ = signalPID(p.PID, syscall.SIGTERM)
	}
	for _, p := range procs {
		if !waitGone(ctx, p.PID, stopGrace) {
			_ = signalPID(p.PID, syscall.SIGKILL)
			waitGone(ctx, p.PID, killGrace)
		}
	}
	return nil
}

// StartDaemon starts a daemon: a registered one from its spec (after
// killing what is left of its last run: keepalived's VRRP child outlives a
// SIGKILLed parent and would refuse the new one), another from the command
// line remembered when it was stopped or killed. A running daemon is left
// alone.
func (e *Engine) StartDaemon(ctx context.Context, node, name string) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	// The daemon outlives the caller's context (a step, an HTTP request).
	ctx = context.WithoutCancel(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.resolve(node, name); d != nil {
		if alive(d.proc) {
			return nil
		}
		if d.proc != nil {
			_, _ = n.Run(ctx, "pkill", "-KILL", "-x", d.exe())
		}
		p, err := n.Start(ctx, d.spec)
		if err != nil {
			return fmt.Errorf("start %s on %s: %w", name, node, err)
		}
		d.proc = p
		return nil
	}
	c, ok := e.stopped[node+"/"+name]
	if !ok {
		return fmt.Errorf("cannot start %s on %s: not a known daemon, and not one this engine stopped", name, node)
	}
	if _, err := n.Start(ctx, c.spec()); err != nil {
		return fmt.Errorf("start %s on %s: %w", name, node, err)
	}
	delete(e.stopped, node+"/"+name)
	return nil
}

// RestartDaemon stops a daemon and starts it again.
func (e *Engine) RestartDaemon(ctx context.Context, node, name string) error {
	if err := e.StopDaemon(ctx, node, name); err != nil {
		e.mu.Lock()
		_, known := e.stopped[node+"/"+name]
		e.mu.Unlock()
		if !known {
			return err
		}
	}
	return e.StartDaemon(ctx, node, name)
}

// Running reports whether a registered daemon's process is alive.
func (e *Engine) Running(node, name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.resolve(node, name)
	return d != nil && alive(d.proc)
}

// StopAll stops every registered daemon at once (before the lab goes
// down, so their last words reach the logs).
func (e *Engine) StopAll(ctx context.Context) {
	e.mu.Lock()
	var procs []*lab.Process
	for _, d := range e.daemons {
		if d.proc != nil {
			procs = append(procs, d.proc)
		}
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { _ = p.Stop(ctx) })
	}
	wg.Wait()
}

// SignalProcess signals every process of a node with that name (pkill -x),
// daemon or not.
func (e *Engine) SignalProcess(ctx context.Context, node, name, sig string) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	out, err := n.Run(ctx, "pkill", "-"+strings.TrimPrefix(strings.ToUpper(sig), "SIG"), "-x", name)
	if err != nil {
		var ee *lab.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return fmt.Errorf("no process named %s on %s", name, node)
		}
		return fmt.Errorf("%s: pkill %s: %w: %s", node, name, err, strings.TrimSpace(out))
	}
	return nil
}
