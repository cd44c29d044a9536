package faults

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"halab/lab"
)

// Engine injects faults into one lab. Its owner may register the daemons
// it starts (Register), so that stopping and starting them use their
// specs; daemons it does not know are found by process name, and the
// command lines of those it stops or crashes are remembered to start them
// again. An Engine is safe for concurrent use: a scenario's steps and the
// page's buttons may act at once.
type Engine struct {
	lab *lab.Lab
	// names are process names worth starting again after a crash.
	names map[string]bool

	mu      sync.Mutex
	daemons map[string]*daemon // node/name
	order   []string           // registration order of daemons' keys
	stopped map[string]Cmd     // node/name of unregistered daemons it stopped
	crashed map[string][]Cmd   // node -> unregistered daemons a crash killed
}

// daemon is a registered daemon.
type daemon struct {
	node, name string
	spec       lab.ProcSpec
	proc       *lab.Process // nil until started
}

// exe is the process name the daemon runs under.
func (d *daemon) exe() string { return filepath.Base(d.spec.Args[0]) }

// alive reports whether a started process still runs.
func alive(p *lab.Process) bool { return p != nil && p.ExitCode() < 0 }

// Option configures New.
type Option func(*Engine)

// WithDaemonNames names the processes a crash remembers and a recovery
// starts again (with the command line, environment and directory they had),
// besides registered daemons and the topology's run entries.
func WithDaemonNames(names ...string) Option {
	return func(e *Engine) {
		for _, n := range names {
			e.names[n] = true
		}
	}
}

// New returns the fault engine of l.
func New(l *lab.Lab, opts ...Option) *Engine {
	e := &Engine{lab: l, names: map[string]bool{}, daemons: map[string]*daemon{},
		stopped: map[string]Cmd{}, crashed: map[string][]Cmd{}}
	for _, name := range l.NodeNames() {
		for _, re := range l.MustNode(name).Spec().Run {
			if len(re.Cmd) > 0 {
				e.names[filepath.Base(re.Cmd[0])] = true
			}
		}
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Lab is the engine's lab.
func (e *Engine) Lab() *lab.Lab { return e.lab }

// Register declares a daemon of a node: name is what steps call it, spec
// how to start it (its Args[0]'s base name is the process name it may also
// be called by). Registering does not start it.
func (e *Engine) Register(node, name string, spec lab.ProcSpec) error {
	if len(spec.Args) == 0 {
		return fmt.Errorf("register %s on %s: empty command", name, node)
	}
	if _, err := e.lab.Node(node); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	key := node + "/" + name
	if _, ok := e.daemons[key]; !ok {
		e.order = append(e.order, key)
	}
	e.daemons[key] = &daemon{node: node, name: name, spec: spec}
	return nil
}

// resolve finds a registered daemon by its name or its process name; the
// caller holds e.mu.
func (e *Engine) resolve(node, name string) *daemon {
	if d := e.daemons[node+"/"+name]; d != nil {
		return d
	}
	for _, key := range e.order {
		if d := e.daemons[key]; d.node == node && d.exe() == name {
			return d
		}
	}
	return nil
}

// lookup resolves a registered daemon and its current process.
func (e *Engine) lookup(node, name string) (*daemon, *lab.Process) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.resolve(node, name)
	if d == nil {
		return nil, nil
	}
	return d, d.proc
}

// registeredOn lists the registered daemons of a node in registration
// order.
func (e *Engine) registeredOn(node string) []*daemon {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*daemon
	for _, key := range e.order {
		if d := e.daemons[key]; d.node == node {
			out = append(out, d)
		}
	}
	return out
}

// owned reports whether a process name belongs to a registered daemon of
// the node.
func (e *Engine) owned(node, procName string) bool {
	return slices.ContainsFunc(e.registeredOn(node), func(d *daemon) bool { return d.exe() == procName })
}
