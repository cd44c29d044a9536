package vrrpd

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"
)

// instance runs one vrrp_instance: it owns the FSM and implements its Hooks.
// All methods run on the daemon goroutine except the GARP goroutines.
type instance struct {
	d       *Daemon
	cfg     *Instance
	log     *slog.Logger
	fsm     *FSM
	conn    *Conn
	src     netip.Addr
	dst     netip.Addr // multicast group (multicast mode)
	expect  Expect
	vipAddr []netip.Addr

	tracked    []Tracked
	scriptIdx  map[*Script][]int // indexes into tracked
	ifaceIdx   map[string][]int
	primaryIdx int // index of the primary interface entry, -1 if not tracked

	drops          map[Drop]uint64
	sendErrors     uint64
	vipsUp         bool
	garpCancel     context.CancelFunc
	lastTransition time.Time
	lastReason     string
	group          *syncGroup // nil when not in a vrrp_sync_group
}

func newInstance(d *Daemon, cfg *Instance) (*instance, error) {
	in := &instance{d: d, cfg: cfg, log: d.log.With("instance", cfg.Name),
		drops: map[Drop]uint64{}, scriptIdx: map[*Script][]int{}, ifaceIdx: map[string][]int{}, primaryIdx: -1}
	for _, v := range cfg.VIPs {
		in.vipAddr = append(in.vipAddr, v.Prefix.Addr())
	}
	src := cfg.SrcIP
	if !src.IsValid() {
		var err error
		if src, err = PrimaryAddr(cfg.Interface, append(cfg.VIPs, cfg.ExcludedVIPs...)); err != nil {
			return nil, fmt.Errorf("(%s) %w", cfg.Name, err)
		}
	}
	in.src, in.dst = src, cfg.McastDst
	in.expect = Expect{Version: cfg.Version, VRID: uint8(cfg.VRID), CheckTTL: !cfg.Unicast(), MinTTL: -1, MaxTTL: -1}
	if cfg.Version == 2 {
		in.expect.Interval = cfg.AdvertInt
		if cfg.AuthType == "PASS" {
			in.expect.AuthType = AuthSimpleText
			in.expect.AuthData = AuthBytes(cfg.AuthPass)
		}
	}
	if !cfg.SkipCheckAdvAddr {
		in.expect.Addrs = in.vipAddr
		if in.expect.Addrs == nil {
			in.expect.Addrs = []netip.Addr{}
		}
	}
	for _, ts := range cfg.TrackScripts {
		st := StatusInit
		if ts.Script.InitFail {
			st = StatusFailed
		}
		in.scriptIdx[ts.Script] = append(in.scriptIdx[ts.Script], len(in.tracked))
		in.tracked = append(in.tracked, Tracked{Name: "script " + ts.Script.Name, Weight: ts.Weight, Reverse: ts.Reverse, Status: st})
	}
	// A sync group's track_script puts the whole group in FAULT: each
	// member tracks it unweighted.
	for _, sg := range d.cfg.SyncGroups {
		if sg.Name != cfg.SyncGroup {
			continue
		}
		for _, ts := range sg.TrackScripts {
			st := StatusInit
			if ts.Script.InitFail {
				st = StatusFailed
			}
			in.scriptIdx[ts.Script] = append(in.scriptIdx[ts.Script], len(in.tracked))
			in.tracked = append(in.tracked, Tracked{Name: "script " + ts.Script.Name, Status: st})
		}
	}
	addIface := func(name string, weight int, reverse bool) int {
		st := StatusFailed
		if LinkUp(name) {
			st = StatusOK
		}
		i := len(in.tracked)
		in.ifaceIdx[name] = append(in.ifaceIdx[name], i)
		in.tracked = append(in.tracked, Tracked{Name: "interface " + name, Weight: weight, Reverse: reverse, Status: st})
		return i
	}
	if !cfg.DontTrackPrimary {
		in.primaryIdx = addIface(cfg.Interface, 0, false)
	}
	for _, ti := range cfg.TrackInterfaces {
		addIface(ti.Name, ti.Weight, ti.Reverse)
	}
	in.fsm = NewFSM(FSMConfig{
		Name: cfg.Name, Version: cfg.Version, VRID: uint8(cfg.VRID), Priority: cfg.Priority,
		AdvertInt: cfg.AdvertInt, Preempt: cfg.Preempt, PreemptDelay: cfg.PreemptDelay,
		WantMaster: cfg.WantMaster, DownTimerAdverts: cfg.DownTimerAdverts,
		LowerPrioNoAdvert: cfg.LowerPrioNoAdvert, HigherPrioSendAdvert: cfg.HigherPrioSendAdvert,
	}, d.clock, in, src)
	return in, nil
}

// retrack recomputes effective priority and fault state after tracking news.
func (in *instance) retrack(why string) {
	eff := EffectivePriority(in.cfg.Priority, in.tracked)
	if old := in.fsm.Priority(); eff != old {
		in.log.Info(fmt.Sprintf("(%s) Changing effective priority from %d to %d", in.cfg.Name, old, eff), "reason", why)
		in.fsm.SetPriority(eff)
	}
	fault, name, waiting := TrackFault(in.tracked)
	reason := why
	if fault {
		reason = name + " is down"
	}
	if in.fsm.State() == StateInit {
		in.fsm.SetWaiting(waiting)
		in.fsm.SetFault(fault, reason)
		in.fsm.Start()
	} else {
		in.fsm.SetFault(fault, reason)
	}
	if in.group != nil {
		in.group.update()
	}
}

func (in *instance) scriptResult(r scriptResult, status ScriptStatus) {
	for _, i := range in.scriptIdx[r.script] {
		in.tracked[i].Status = status
	}
	in.retrack(fmt.Sprintf("VRRP_Script(%s) %s", r.script.Name, map[ScriptStatus]string{StatusOK: "succeeded", StatusFailed: "failed"}[status]))
}

func (in *instance) linkChange(name string, up bool) {
	idx, ok := in.ifaceIdx[name]
	if !ok {
		return
	}
	st := StatusFailed
	if up {
		st = StatusOK
	}
	changed := false
	for _, i := range idx {
		if in.tracked[i].Status != st {
			in.tracked[i].Status = st
			changed = true
		}
	}
	if changed {
		in.log.Info(fmt.Sprintf("Netlink reports %s %s", name, map[bool]string{true: "up", false: "down"}[up]))
		in.retrack(fmt.Sprintf("interface %s %s", name, map[bool]string{true: "up", false: "down"}[up]))
	}
}

// receive validates and feeds one packet to the FSM.
func (in *instance) receive(p Packet) {
	if p.Rx.Src == in.src {
		return // our own advert
	}
	want := in.expect
	if in.cfg.Unicast() {
		peer, known := in.peer(p.Rx.Src)
		if in.cfg.CheckUnicastSrc && !known {
			in.drop(DropSource, p.Rx.Src)
			return
		}
		if known {
			want.MinTTL, want.MaxTTL = peer.MinTTL, peer.MaxTTL
		}
	}
	a, drop := Decode(p.Payload, p.Rx, want)
	if drop != DropNone {
		in.drop(drop, p.Rx.Src)
		return
	}
	in.fsm.Receive(p.Rx.Src, a)
}

func (in *instance) peer(a netip.Addr) (UnicastPeer, bool) {
	for _, p := range in.cfg.UnicastPeers {
		if p.Addr == a {
			return p, true
		}
	}
	return UnicastPeer{}, false
}

func (in *instance) drop(d Drop, src netip.Addr) {
	in.drops[d]++
	// Log the first drop of each kind and then every 100th, as a rate limit.
	if n := in.drops[d]; n == 1 || n%100 == 0 {
		in.log.Info(fmt.Sprintf("(%s) dropped advert from %v: %v", in.cfg.Name, src, d), "reason", d.String(), "count", n)
	}
}

// SendAdvert implements Hooks.
func (in *instance) SendAdvert(prio uint8) {
	a := &Advert{Version: in.cfg.Version, VRID: uint8(in.cfg.VRID), Priority: prio,
		Interval: in.cfg.AdvertInt, Addrs: in.vipAddr}
	if in.cfg.Version == 2 && in.cfg.AuthType == "PASS" {
		a.AuthType, a.AuthData = AuthSimpleText, AuthBytes(in.cfg.AuthPass)
	}
	send := func(dst netip.Addr, ttl int) {
		b, err := a.Marshal(in.src, dst)
		if err == nil {
			err = in.conn.Send(in.src, dst, ttl, b)
		}
		if err != nil {
			in.sendErrors++
			if in.sendErrors == 1 || in.sendErrors%100 == 0 {
				in.log.Warn("advert not sent", "err", err, "count", in.sendErrors)
			}
		}
	}
	if in.conn == nil {
		return
	}
	if in.cfg.Unicast() {
		for _, p := range in.cfg.UnicastPeers {
			send(p.Addr, in.cfg.UnicastTTL)
		}
		return
	}
	send(in.dst, VRRPTTL)
}

// Transition implements Hooks: addresses, ARPs, notifies, log and status.
func (in *instance) Transition(from, to State, reason string) {
	in.lastTransition, in.lastReason = in.d.clock.Now(), reason
	in.log.Info(fmt.Sprintf("(%s) Entering %s STATE", in.cfg.Name, to),
		"from", from.String(), "to", to.String(), "reason", reason, "priority", in.fsm.Priority())
	if to == StateMaster {
		in.addVIPs()
		in.startGARP()
	} else {
		in.stopGARP()
		in.delVIPs(from == StateMaster)
	}
	in.notify(to)
	in.d.statusDirty = true
	if in.group != nil {
		in.group.memberTransition(in.fsm, from, to)
	}
}

// LowerPrioAdvert implements Hooks: re-announce our addresses.
func (in *instance) LowerPrioAdvert(src netip.Addr, prio uint8) {
	g := in.cfg.GARP
	if g.LowerPrioRepeat <= 0 || in.garpCancel == nil {
		return
	}
	ctx := in.d.ctx
	go func() {
		in.garpBurst(ctx, g.LowerPrioRepeat)
		if g.LowerPrioDelay > 0 && in.sleep(ctx, g.LowerPrioDelay) {
			in.garpBurst(ctx, g.LowerPrioRepeat)
		}
	}()
}

func (in *instance) addVIPs() {
	for _, v := range append(append([]VIP(nil), in.cfg.VIPs...), in.cfg.ExcludedVIPs...) {
		if err := AddVIP(v); err != nil {
			in.log.Error("cannot add virtual address", "vip", v.Prefix.String(), "dev", v.Dev, "err", err)
		}
	}
	in.vipsUp = true
}

func (in *instance) delVIPs(verbose bool) {
	for _, v := range append(append([]VIP(nil), in.cfg.VIPs...), in.cfg.ExcludedVIPs...) {
		if err := DelVIP(v); err != nil && verbose {
			in.log.Error("cannot remove virtual address", "vip", v.Prefix.String(), "dev", v.Dev, "err", err)
		}
	}
	in.vipsUp = false
}

// startGARP sends keepalived's gratuitous ARP pattern: a burst at once, a
// second burst after garp_master_delay, then refresh bursts if configured.
func (in *instance) startGARP() {
	in.stopGARP()
	ctx, cancel := context.WithCancel(in.d.ctx)
	in.garpCancel = cancel
	g := in.cfg.GARP
	go func() {
		in.garpBurst(ctx, g.MasterRepeat)
		if g.MasterDelay > 0 {
			if !in.sleep(ctx, g.MasterDelay) {
				return
			}
			in.garpBurst(ctx, g.MasterRepeat)
		}
		for g.MasterRefresh > 0 {
			if !in.sleep(ctx, g.MasterRefresh) {
				return
			}
			in.garpBurst(ctx, g.MasterRefreshRepeat)
		}
	}()
}

func (in *instance) stopGARP() {
	if in.garpCancel != nil {
		in.garpCancel()
		in.garpCancel = nil
	}
}

func (in *instance) sleep(ctx context.Context, d time.Duration) bool {
	t := in.d.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func (in *instance) garpBurst(ctx context.Context, repeat int) {
	for i := 0; i < repeat; i++ {
		for _, v := range in.cfg.VIPs {
			if ctx.Err() != nil {
				return
			}
			if err := SendGARP(v.Dev, v.Prefix.Addr()); err != nil {
				in.log.Debug("gratuitous ARP failed", "vip", v.Prefix.Addr().String(), "err", err)
			}
			if in.cfg.GARP.Interval > 0 && !in.sleep(ctx, in.cfg.GARP.Interval) {
				return
			}
		}
	}
}

// notify runs notify_<state> and the generic notify script with
// keepalived's four extra arguments.
func (in *instance) notify(to State) {
	var script string
	switch to {
	case StateMaster:
		script = in.cfg.NotifyMaster
	case StateBackup:
		script = in.cfg.NotifyBackup
	case StateFault:
		script = in.cfg.NotifyFault
	case StateStop:
		script = in.cfg.NotifyStop
	default:
		return
	}
	if script != "" {
		runNotify(in.log, script)
	}
	if in.cfg.Notify != "" {
		runNotify(in.log, in.cfg.Notify+" INSTANCE "+shellQuote(in.cfg.Name)+" "+to.String()+" "+strconv.Itoa(in.fsm.Priority()))
	}
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}

func (in *instance) status() InstanceStatus {
	s := InstanceStatus{
		Name: in.cfg.Name, Interface: in.cfg.Interface, VRID: in.cfg.VRID, Version: in.cfg.Version,
		State: in.fsm.State().String(), ConfiguredPriority: in.cfg.Priority, EffectivePriority: in.fsm.Priority(),
		Source: in.src.String(), AdvertInt: in.cfg.AdvertInt.String(), MasterAdvertInt: in.fsm.MasterAdverInt().String(),
		VIPsInstalled: in.vipsUp, LastTransition: in.lastTransition, LastReason: in.lastReason,
		Drops: map[string]uint64{},
	}
	if in.group != nil {
		s.SyncGroup, s.SyncGroupState = in.group.cfg.Name, in.group.State().String()
	}
	if m, p := in.fsm.Master(); m.IsValid() {
		s.Master, s.MasterPriority = m.String(), p
	}
	for _, v := range in.cfg.VIPs {
		s.VIPs = append(s.VIPs, v.Prefix.String())
	}
	for _, t := range in.tracked {
		s.Tracked = append(s.Tracked, TrackedStatus{Name: t.Name, Weight: t.Weight, Status: t.Status.String()})
	}
	st := in.fsm.Stats
	s.Counters = InstanceCounters{AdvertsSent: st.AdvertsSent, AdvertsReceived: st.AdvertsReceived,
		Prio0Sent: st.Prio0Sent, Prio0Received: st.Prio0Received, BecameMaster: st.BecameMaster,
		ReleasedMaster: st.ReleasedMaster, Transitions: st.Transitions, SendErrors: in.sendErrors}
	for _, d := range AllDrops() {
		s.Drops[d.String()] = in.drops[d]
		s.Counters.Dropped += in.drops[d]
	}
	return s
}
