package faults

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"halab/lab"
)

// Crash kills every process of a node (its init stays), puts its
// interfaces down and removes its VIPs, as a machine that dies. The
// unregistered daemons it kills (the topology's run entries, the names
// given WithDaemonNames) are remembered for Recover.
func (e *Engine) Crash(ctx context.Context, node string) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	st, err := e.lab.Status()
	if err != nil {
		return err
	}
	var cmds []Cmd
	for _, ns := range st {
		if ns.Name != node {
			continue
		}
		for _, p := range TopLevel(ns.Processes) {
			if e.names[p.Name] && !e.owned(node, p.Name) {
				cmds = append(cmds, readCmd(p, runName(n, p.Name)))
			}
		}
	}
	e.mu.Lock()
	e.crashed[node] = append(e.crashed[node], cmds...)
	e.mu.Unlock()
	return errors.Join(killAll(ctx, n), setAllLinks(n, false), flushVIPs(n))
}

// runName is the name of the run entry a process comes from (its log
// file keeps that name), or the process name.
func runName(n *lab.Node, proc string) string {
	for _, re := range n.Spec().Run {
		if len(re.Cmd) > 0 && filepath.Base(re.Cmd[0]) == proc && re.Name != "" {
			return re.Name
		}
	}
	return proc
}

// killAll kills every process of a node but its init.
func killAll(ctx context.Context, n *lab.Node) error {
	out, err := n.Run(ctx, "kill", "-KILL", "-1")
	if err != nil {
		var ee *lab.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 && strings.TrimSpace(out) == "" {
			return nil // nothing left to kill
		}
		return fmt.Errorf("%s: kill -KILL -1: %w: %s", n.Name(), err, strings.TrimSpace(out))
	}
	return nil
}

// Recover brings a crashed node back: interfaces up, its registered
// daemons started in registration order, and the daemons the crash killed
// started again.
func (e *Engine) Recover(ctx context.Context, node string) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	if err := setAllLinks(n, true); err != nil {
		return err
	}
	e.mu.Lock()
	cmds := e.crashed[node]
	delete(e.crashed, node)
	e.mu.Unlock()
	var errs []error
	for _, c := range cmds {
		if _, err := n.Start(context.WithoutCancel(ctx), c.spec()); err != nil {
			errs = append(errs, fmt.Errorf("restart %s on %s: %w", c.Name, node, err))
		}
	}
	for _, d := range e.registeredOn(node) {
		errs = append(errs, e.StartDaemon(ctx, node, d.name))
	}
	return errors.Join(errs...)
}
