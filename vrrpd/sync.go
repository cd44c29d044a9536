package vrrpd

import (
	"fmt"
	"log/slog"
)

// syncGroup runs a vrrp_sync_group: its members move together, as
// keepalived's do. A member becomes master only when every member wants
// to (its Master_Down_Timer fired) and then takes the others along, a member that steps down to backup takes the others to backup,
// and while any member's own tracking is faulty every member is in FAULT
// (masters leave with a priority 0 advert). The group has its own state and
// notify scripts. All methods run on the daemon goroutine.
type syncGroup struct {
	cfg     *SyncGroup
	log     *slog.Logger
	members []*FSM
	// notify runs a notify command line (runNotify outside tests).
	notify func(cmdline string)

	state   State
	faulty  bool
	syncing bool // forcing members: their transitions are ours
	primed  bool
}

func newSyncGroup(cfg *SyncGroup, log *slog.Logger, notify func(string)) *syncGroup {
	return &syncGroup{cfg: cfg, log: log.With("sync_group", cfg.Name), notify: notify}
}

func (g *syncGroup) add(m *FSM) {
	g.members = append(g.members, m)
	m.gate = g
}

// canGoMaster lets a member whose down timer fired become master only when
// the group is master or every other member wants to be master too
// (keepalived prefers BACKUP to thrashing when only some links lost
// their master).
func (g *syncGroup) canGoMaster(m *FSM) bool {
	if g.state == StateMaster {
		return true
	}
	for _, o := range g.members {
		if o != m && o.State() != StateMaster && !o.WantsMaster() {
			return false
		}
	}
	return true
}

// State returns the group's state.
func (g *syncGroup) State() State { return g.state }

// memberTransition follows a member's state change.
func (g *syncGroup) memberTransition(m *FSM, from, to State) {
	if g.syncing {
		return
	}
	switch {
	case to == StateMaster:
		g.force(m, StateMaster, fmt.Sprintf("sync group %s: %s became MASTER", g.cfg.Name, m.cfg.Name))
	case to == StateBackup && from == StateMaster:
		g.force(m, StateBackup, fmt.Sprintf("sync group %s: %s became BACKUP", g.cfg.Name, m.cfg.Name))
	case to == StateFault:
		g.update()
		return
	}
	g.settle()
}

func (g *syncGroup) force(except *FSM, to State, reason string) {
	moving := false
	for _, o := range g.members {
		if o == except {
			continue
		}
		if (to == StateMaster && o.State() == StateBackup) || (to == StateBackup && o.State() == StateMaster) {
			moving = true
		}
	}
	if !moving {
		return
	}
	g.log.Info(fmt.Sprintf("VRRP_Group(%s) Syncing instances to %s state", g.cfg.Name, to), "reason", reason)
	g.syncing = true
	defer func() { g.syncing = false }()
	for _, o := range g.members {
		if o == except {
			continue
		}
		if to == StateMaster {
			o.ForceMaster(reason)
		} else {
			o.ForceBackup(reason)
		}
	}
}

// update follows a change of a member's own fault: the group is faulty
// while any member is.
func (g *syncGroup) update() {
	faulty, who := false, ""
	for _, m := range g.members {
		if m.Fault() {
			faulty, who = true, m.cfg.Name
			break
		}
	}
	if faulty != g.faulty {
		g.faulty = faulty
		reason := fmt.Sprintf("sync group %s: member %s is faulty", g.cfg.Name, who)
		if !faulty {
			reason = fmt.Sprintf("sync group %s: no member is faulty", g.cfg.Name)
		} else {
			g.log.Info(fmt.Sprintf("VRRP_Group(%s) Syncing instances to FAULT state", g.cfg.Name), "reason", reason)
		}
		g.syncing = true
		for _, m := range g.members {
			m.SetGroupFault(faulty, reason)
		}
		g.syncing = false
	}
	g.settle()
}

// prime sets up a group rebuilt by a reload from its members' current
// states, without notifies.
func (g *syncGroup) prime() {
	if g.primed {
		return
	}
	g.primed = true
	g.faulty = false
	for _, m := range g.members {
		g.faulty = g.faulty || m.Fault()
	}
	g.syncing = true
	for _, m := range g.members {
		m.SetGroupFault(g.faulty, fmt.Sprintf("sync group %s reloaded", g.cfg.Name))
	}
	g.syncing = false
	g.state = g.derive(StateInit)
}

// derive is the group's state given its members', or cur when they are
// in transit.
func (g *syncGroup) derive(cur State) State {
	all := func(s State) bool {
		for _, m := range g.members {
			if m.State() != s {
				return false
			}
		}
		return len(g.members) > 0
	}
	switch {
	case g.faulty:
		return StateFault
	case all(StateMaster):
		return StateMaster
	case all(StateBackup):
		return StateBackup
	}
	return cur
}

// settle derives the group's state from its members and runs the group's
// notify scripts when it changes.
func (g *syncGroup) settle() {
	st := g.derive(g.state)
	if st == g.state {
		return
	}
	g.log.Info(fmt.Sprintf("VRRP_Group(%s) Entering %s STATE", g.cfg.Name, st), "from", g.state.String())
	g.state = st
	g.runNotify(st)
}

func (g *syncGroup) runNotify(st State) {
	script := ""
	switch st {
	case StateMaster:
		script = g.cfg.NotifyMaster
	case StateBackup:
		script = g.cfg.NotifyBackup
	case StateFault:
		script = g.cfg.NotifyFault
	default:
		return
	}
	if g.notify == nil {
		return
	}
	if script != "" {
		g.notify(script)
	}
	if g.cfg.Notify != "" {
		g.notify(g.cfg.Notify + " GROUP " + shellQuote(g.cfg.Name) + " " + st.String() + " 0")
	}
}
