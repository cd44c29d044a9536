package faults

import (
	"context"
	"fmt"
	"strings"
	"syscall"
)

// Action is a fault or a repair named the teaching page's way.
type Action struct {
	// Kind is one of: kill, term, stop, cont, restart, start (a daemon;
	// stop freezes it with SIGSTOP, cont thaws it); link_down, link_up (an
	// interface); crash, return (a node); block_vrrp, unblock_vrrp
	// (between Node and Peer).
	Kind   string `json:"action"`
	Node   string `json:"node"`
	Daemon string `json:"daemon,omitempty"`
	Iface  string `json:"iface,omitempty"`
	Peer   string `json:"peer,omitempty"`
}

// String describes the action for the timeline.
func (a Action) String() string {
	switch a.Kind {
	case "kill", "term", "stop", "cont", "restart", "start":
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

// daemonSignals are the actions that signal a daemon.
var daemonSignals = map[string]syscall.Signal{
	"kill": syscall.SIGKILL, "term": syscall.SIGTERM, "stop": syscall.SIGSTOP, "cont": syscall.SIGCONT,
}

// Apply carries out a.
func (e *Engine) Apply(ctx context.Context, a Action) error {
	if _, err := e.lab.Node(a.Node); err != nil {
		return err
	}
	if sig, ok := daemonSignals[a.Kind]; ok {
		return e.SignalDaemon(ctx, a.Node, a.Daemon, sig)
	}
	switch a.Kind {
	case "restart":
		return e.RestartDaemon(ctx, a.Node, a.Daemon)
	case "start":
		return e.StartDaemon(ctx, a.Node, a.Daemon)
	case "link_down", "link_up":
		return e.SetLink(a.Node, a.Iface, a.Kind == "link_up")
	case "crash":
		return e.Crash(ctx, a.Node)
	case "return":
		return e.Recover(ctx, a.Node)
	case "block_vrrp":
		return e.BlockVRRP(ctx, a.Node, a.Peer)
	case "unblock_vrrp":
		return e.UnblockVRRP(ctx, a.Node, a.Peer)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}
