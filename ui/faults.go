package ui

import (
	"context"
	"maps"
	"slices"

	"halab/faults"
	"halab/lab"
)

// Action is a fault or a repair asked for from the page: the fault
// engine's vocabulary (kill, term, stop, cont, restart, start, link_down,
// link_up, crash, return, block_vrrp, unblock_vrrp).
type Action = faults.Action

// Faults injects the page's actions. *faults.Engine implements it: the
// page and scenario steps share one fault engine (`lab run --ui` hands the
// run's engine to the page).
type Faults interface {
	Apply(ctx context.Context, a Action) error
}

// NewEngine returns a fault engine of l for a page that did not start the
// lab's daemons: it finds them by process name, and a crash remembers the
// daemons the page shows so that return starts them again.
func NewEngine(l *lab.Lab) *faults.Engine {
	return faults.New(l, faults.WithDaemonNames(slices.Sorted(maps.Keys(daemonKinds))...))
}
