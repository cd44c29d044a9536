package vrrpd

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a VRRP instance state. Fault and Stop are keepalived's additions
// to the RFC's Initialize, Backup and Master.
type State int

// Instance states.
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStop
)

func (s State) String() string {
	switch s {
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	}
	return "INIT"
}

// FSMConfig is what the state machine needs from an instance's config.
type FSMConfig struct {
	Name             string
	Version          int
	VRID             uint8
	Priority         int // configured (base) priority
	AdvertInt        time.Duration
	Preempt          bool
	PreemptDelay     time.Duration
	WantMaster       bool // state MASTER
	DownTimerAdverts int  // 3 per the RFCs
	// LowerPrioNoAdvert stops the master answering a lower priority advert
	// with an immediate advert of its own (keepalived's default is to answer).
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
}

// Hooks are the state machine's side effects, implemented by the runtime.
// They are called synchronously from FSM methods.
type Hooks interface {
	// SendAdvert sends an advertisement with the given priority.
	SendAdvert(prio uint8)
	// Transition reports a state change; the runtime adds or removes
	// addresses, sends gratuitous ARPs and runs notify scripts.
	Transition(from, to State, reason string)
	// LowerPrioAdvert reports, as master, an advert from a lower priority
	// router (keepalived re-sends gratuitous ARPs after garp_lower_prio_delay).
	LowerPrioAdvert(src netip.Addr, prio uint8)
}

// FSM is the VRRP state machine of one instance (RFC 3768 section 6.4,
// RFC 5798 section 6.4) with keepalived's startup and fault handling. It is
// not safe for concurrent use: the runtime drives it from one goroutine,
// calling Tick whenever Deadline passes.
type FSM struct {
	cfg   FSMConfig
	clock Clock
	hooks Hooks
	local netip.Addr // our primary address, for equal-priority tie breaks

	state          State
	effPrio        int
	masterAdverInt time.Duration
	deadline       time.Time // adver timer (master) or master down timer (backup); zero = none
	preemptAt      time.Time // preempt_delay: lower priority master tolerated until then
	fault          bool      // own tracking fault
	faultReason    string
	groupFault     bool // another member of the sync group is faulty
	groupReason    string
	waitInit       bool // weight-0 scripts have not reported yet
	gate           masterGate
	wantMaster     bool // down timer fired, held back by the gate

	masterAddr netip.Addr
	masterPrio int

	Stats FSMStats
}

// FSMStats are the state machine's counters.
type FSMStats struct {
	AdvertsSent     uint64
	AdvertsReceived uint64
	Prio0Sent       uint64
	Prio0Received   uint64
	BecameMaster    uint64
	ReleasedMaster  uint64
	Transitions     uint64
}

// masterGate lets a sync group hold a member in BACKUP until every member
// wants to be master, as keepalived does to avoid thrashing.
type masterGate interface {
	canGoMaster(f *FSM) bool
}

// WantsMaster reports whether a backup's Master_Down_Timer fired while its
// sync group held it back.
func (f *FSM) WantsMaster() bool { return f.state == StateBackup && f.wantMaster }

// NewFSM returns a state machine in Initialize. local is the source address
// of our adverts.
func NewFSM(cfg FSMConfig, clock Clock, hooks Hooks, local netip.Addr) *FSM {
	if cfg.DownTimerAdverts == 0 {
		cfg.DownTimerAdverts = DefaultDownTimerAdverts
	}
	return &FSM{cfg: cfg, clock: clock, hooks: hooks, local: local,
		effPrio: cfg.Priority, masterAdverInt: cfg.AdvertInt}
}

// State returns the current state.
func (f *FSM) State() State { return f.state }

// Priority returns the effective priority.
func (f *FSM) Priority() int { return f.effPrio }

// Master returns the current master's address and priority as last seen
// (our own when we are master); the address is invalid when unknown.
func (f *FSM) Master() (netip.Addr, int) {
	if f.state == StateMaster {
		return f.local, f.effPrio
	}
	return f.masterAddr, f.masterPrio
}

// MasterAdverInt returns the master's advertisement interval in use.
func (f *FSM) MasterAdverInt() time.Duration { return f.masterAdverInt }

// Deadline returns when Tick must next be called (zero: no timer).
func (f *FSM) Deadline() time.Time { return f.deadline }

// Skew returns Skew_Time for the current priority: (256-Priority)/256 s in
// VRRPv2; ((256-Priority)*Master_Adver_Interval)/256 in VRRPv3, computed in
// centiseconds and truncated as keepalived does.
func (f *FSM) Skew() time.Duration {
	p := 256 - f.effPrio
	if f.cfg.Version == 3 {
		cs := int64(f.masterAdverInt / (10 * time.Millisecond))
		return time.Duration(int64(p)*cs/256) * 10 * time.Millisecond
	}
	return time.Duration(p) * time.Second / 256
}

// MasterDownInterval returns 3*Master_Adver_Interval + Skew_Time (with
// keepalived's down_timer_adverts in place of 3).
func (f *FSM) MasterDownInterval() time.Duration {
	return time.Duration(f.cfg.DownTimerAdverts)*f.masterAdverInt + f.Skew()
}

func (f *FSM) setState(to State, reason string) {
	from := f.state
	if from == to {
		return
	}
	f.state = to
	f.Stats.Transitions++
	if to == StateMaster {
		f.Stats.BecameMaster++
	}
	if from == StateMaster {
		f.Stats.ReleasedMaster++
	}
	f.hooks.Transition(from, to, reason)
}

// SetWaiting holds the instance in Initialize while weight-0 scripts have
// not reported (keepalived's "scripts in init state").
func (f *FSM) SetWaiting(w bool) { f.waitInit = w }

// Start leaves Initialize (RFC 6.4.1): the address owner asking for MASTER
// becomes master at once, everyone else becomes backup. A backup configured
// with state MASTER times out after one advert interval instead of three.
func (f *FSM) Start() {
	if f.state != StateInit || f.waitInit {
		return
	}
	if f.fault || f.groupFault {
		f.setState(StateFault, f.faultText())
		f.deadline = time.Time{}
		return
	}
	f.masterAdverInt = f.cfg.AdvertInt
	if f.cfg.WantMaster && f.cfg.Priority == PriorityOwner {
		f.becomeMaster("address owner (priority 255) starting as MASTER")
		return
	}
	// keepalived 2.2.7 starts a "state MASTER" instance below priority 255
	// like any backup: measured in a lab, it takes the VIP after
	// Master_Down_Interval (3.6 s with advert_int 1, priority 100), not
	// after one advert interval.
	f.enterBackup("init")
	f.deadline = f.clock.Now().Add(f.MasterDownInterval() + f.cfg.PreemptDelay)
}

func (f *FSM) enterBackup(reason string) {
	f.wantMaster = false
	f.setState(StateBackup, reason)
	f.preemptAt = time.Time{}
	f.deadline = f.clock.Now().Add(f.MasterDownInterval())
}

func (f *FSM) becomeMaster(reason string) {
	f.wantMaster = false
	f.setState(StateMaster, reason)
	f.masterAddr, f.masterPrio = f.local, f.effPrio
	f.send(uint8(f.effPrio))
	f.deadline = f.clock.Now().Add(f.cfg.AdvertInt)
}

func (f *FSM) send(prio uint8) {
	f.Stats.AdvertsSent++
	if prio == 0 {
		f.Stats.Prio0Sent++
	}
	f.hooks.SendAdvert(prio)
}

// Tick handles an expired timer: the master sends its advert; a backup whose
// Master_Down_Timer fired becomes master.
func (f *FSM) Tick() {
	if f.deadline.IsZero() || f.clock.Now().Before(f.deadline) {
		return
	}
	switch f.state {
	case StateMaster:
		f.send(uint8(f.effPrio))
		f.deadline = f.clock.Now().Add(f.cfg.AdvertInt)
	case StateBackup:
		if f.gate != nil && !f.gate.canGoMaster(f) {
			// Wait for the rest of the sync group; an advert re-arms
			// the timer, another member's takeover brings us along.
			f.wantMaster = true
			f.deadline = time.Time{}
			return
		}
		reason := fmt.Sprintf("no advert from the master for %v (Master_Down_Interval)", f.MasterDownInterval())
		if f.masterPrio > 0 && f.masterPrio < f.effPrio && f.cfg.Preempt && f.masterAddr.IsValid() {
			reason = fmt.Sprintf("preempting lower priority master %v (priority %d < %d)", f.masterAddr, f.masterPrio, f.effPrio)
		}
		f.becomeMaster(reason)
	default:
		f.deadline = time.Time{}
	}
}

// Receive handles an advert that passed Decode's checks.
func (f *FSM) Receive(src netip.Addr, a *Advert) {
	f.Stats.AdvertsReceived++
	if a.Priority == 0 {
		f.Stats.Prio0Received++
	}
	now := f.clock.Now()
	switch f.state {
	case StateBackup:
		if a.Priority == 0 {
			// The master is leaving: take over after Skew_Time.
			f.masterPrio = 0
			f.wantMaster = false
			f.deadline = now.Add(f.Skew())
			return
		}
		lower := int(a.Priority) < f.effPrio
		if f.cfg.Preempt && lower {
			f.masterAddr, f.masterPrio = src, int(a.Priority)
			if f.cfg.PreemptDelay > 0 {
				if f.preemptAt.IsZero() {
					f.preemptAt = now.Add(f.cfg.PreemptDelay)
				}
				if now.Before(f.preemptAt) {
					f.acceptMaster(now, src, a)
				}
			}
			// Otherwise discard: the down timer runs out and we preempt.
			return
		}
		f.preemptAt = time.Time{}
		f.acceptMaster(now, src, a)
	case StateMaster:
		if a.Priority == 0 {
			f.send(uint8(f.effPrio))
			f.deadline = now.Add(f.cfg.AdvertInt)
			return
		}
		if int(a.Priority) > f.effPrio || (int(a.Priority) == f.effPrio && addrGreater(src, f.local)) {
			if f.cfg.HigherPrioSendAdvert {
				f.send(uint8(f.effPrio))
			}
			if f.cfg.Version == 3 {
				f.masterAdverInt = a.Interval
			}
			f.masterAddr, f.masterPrio = src, int(a.Priority)
			f.enterBackup(fmt.Sprintf("higher priority advert from %v (priority %d > %d)", src, a.Priority, f.effPrio))
			return
		}
		// A lower priority router thinks it is master: assert ourselves.
		if !f.cfg.LowerPrioNoAdvert {
			f.send(uint8(f.effPrio))
			f.deadline = now.Add(f.cfg.AdvertInt)
		}
		f.hooks.LowerPrioAdvert(src, a.Priority)
	}
}

// acceptMaster resets the Master_Down_Timer after a valid master advert.
func (f *FSM) acceptMaster(now time.Time, src netip.Addr, a *Advert) {
	if f.cfg.Version == 3 && a.Interval > 0 {
		f.masterAdverInt = a.Interval
	}
	f.masterAddr, f.masterPrio = src, int(a.Priority)
	f.wantMaster = false
	f.deadline = now.Add(f.MasterDownInterval())
}

// SetPriority changes the effective priority (tracking). A master simply
// advertises the new value; a backup's down timer follows the new skew.
func (f *FSM) SetPriority(p int) {
	if p == f.effPrio {
		return
	}
	old := f.MasterDownInterval()
	f.effPrio = p
	if f.state == StateBackup && !f.deadline.IsZero() {
		f.deadline = f.deadline.Add(f.MasterDownInterval() - old)
	}
	if f.state == StateMaster {
		f.masterPrio = p
	}
}

// SetFault puts the instance in FAULT (tracked script or interface down)
// or brings it back to BACKUP.
func (f *FSM) SetFault(fault bool, reason string) {
	if fault == f.fault {
		if fault {
			f.faultReason = reason
		}
		return
	}
	f.fault, f.faultReason = fault, reason
	f.applyFault(reason)
}

// Fault reports whether the instance's own tracking puts it in FAULT.
func (f *FSM) Fault() bool { return f.fault }

// SetGroupFault puts the instance in FAULT because another member of its
// sync group is faulty, or lets it leave FAULT (unless its own tracking
// still says fault).
func (f *FSM) SetGroupFault(fault bool, reason string) {
	if fault == f.groupFault {
		return
	}
	f.groupFault, f.groupReason = fault, reason
	f.applyFault(reason)
}

func (f *FSM) faultText() string {
	if f.fault {
		return f.faultReason
	}
	return f.groupReason
}

func (f *FSM) applyFault(reason string) {
	faulty := f.fault || f.groupFault
	switch {
	case faulty && (f.state == StateBackup || f.state == StateMaster):
		if f.state == StateMaster {
			f.send(0)
		}
		f.setState(StateFault, reason)
		f.deadline = time.Time{}
	case !faulty && f.state == StateFault:
		f.masterAdverInt = f.cfg.AdvertInt
		f.enterBackup(reason)
	}
}

// adopt carries a running state machine's state over to this one, which
// has the reloaded configuration.
func (f *FSM) adopt(o *FSM) {
	f.state, f.effPrio = o.state, o.effPrio
	f.deadline, f.preemptAt = o.deadline, o.preemptAt
	f.masterAddr, f.masterPrio, f.masterAdverInt = o.masterAddr, o.masterPrio, o.masterAdverInt
	f.fault, f.faultReason = o.fault, o.faultReason
	f.groupFault, f.groupReason = o.groupFault, o.groupReason
	f.waitInit, f.wantMaster = o.waitInit, o.wantMaster
	f.Stats = o.Stats
	if f.state == StateMaster {
		f.masterAdverInt = f.cfg.AdvertInt
	}
}

// ForceMaster makes a backup master at once: a sync group follows a member
// that became master.
func (f *FSM) ForceMaster(reason string) {
	if f.state == StateBackup {
		f.becomeMaster(reason)
	}
}

// ForceBackup makes a master step down to backup without a priority 0
// advert: a sync group follows a member that became backup.
func (f *FSM) ForceBackup(reason string) {
	if f.state == StateMaster {
		f.enterBackup(reason)
	}
}

// Shutdown stops the instance; a master sends priority 0 so a backup takes
// over after Skew_Time (RFC 6.4.3).
func (f *FSM) Shutdown(reason string) {
	if f.state == StateMaster {
		f.send(0)
	}
	f.deadline = time.Time{}
	f.setState(StateStop, reason)
}

// addrGreater compares IPv4 addresses as unsigned integers.
func addrGreater(a, b netip.Addr) bool { return a.Compare(b) > 0 }
