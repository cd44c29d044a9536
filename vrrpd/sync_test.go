package vrrpd

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// groupHooks records one member's side effects and forwards its
// transitions to the group, as instance.Transition does.
type groupHooks struct {
	name   string
	log    *[]string
	g      **syncGroup
	fsm    **FSM
	events *[]string
}

func (h groupHooks) SendAdvert(prio uint8) {
	*h.log = append(*h.log, fmt.Sprintf("%s send %d", h.name, prio))
}

func (h groupHooks) Transition(from, to State, reason string) {
	*h.log = append(*h.log, fmt.Sprintf("%s %v->%v", h.name, from, to))
	(*h.g).memberTransition(*h.fsm, from, to)
}

func (h groupHooks) LowerPrioAdvert(_ netip.Addr, _ uint8) {}

// groupRig is a sync group of two FSMs on a fake clock.
type groupRig struct {
	c       *FakeClock
	g       *syncGroup
	a, b    *FSM
	log     []string
	notices []string
}

func newGroupRig(t *testing.T, cfgA, cfgB FSMConfig) *groupRig {
	t.Helper()
	r := &groupRig{c: NewFakeClock()}
	sg := &SyncGroup{Name: "G", NotifyMaster: "gm", NotifyBackup: "gb", NotifyFault: "gf", Notify: "gn"}
	r.g = newSyncGroup(sg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(s string) { r.notices = append(r.notices, s) })
	cfgA.Name, cfgB.Name = "A", "B"
	r.a = NewFSM(cfgA, r.c, groupHooks{name: "A", log: &r.log, g: &r.g, fsm: &r.a}, local)
	r.b = NewFSM(cfgB, r.c, groupHooks{name: "B", log: &r.log, g: &r.g, fsm: &r.b}, local)
	r.g.add(r.a)
	r.g.add(r.b)
	return r
}

func (r *groupRig) take() string {
	s := strings.Join(r.log, ",")
	r.log = nil
	return s
}

func (r *groupRig) takeNotices() string {
	s := strings.Join(r.notices, ",")
	r.notices = nil
	return s
}

func (r *groupRig) advance(d time.Duration) {
	r.c.Advance(d)
	r.a.Tick()
	r.b.Tick()
}

// fault sets a member's own fault and tells the group, as retrack does.
func (r *groupRig) fault(m *FSM, on bool) {
	m.SetFault(on, "interface down")
	r.g.update()
}

func TestSyncGroupMovesTogether(t *testing.T) {
	cfg := baseFSM()
	r := newGroupRig(t, cfg, cfg)
	r.a.Start()
	r.b.Start()
	require.Equal(t, "A INIT->BACKUP,B INIT->BACKUP", r.take())
	require.Equal(t, StateBackup, r.g.State())
	require.Equal(t, "gb,gn GROUP 'G' BACKUP 0", r.takeNotices())

	// A's master goes silent while B still hears its own: A waits for B
	// instead of thrashing.
	r.c.Advance(3 * time.Second)
	r.b.Receive(peerL, &Advert{Version: 2, VRID: 1, Priority: 150, Interval: time.Second})
	r.advance(700 * time.Millisecond)
	require.Empty(t, r.take())
	require.True(t, r.a.WantsMaster())
	r.advance(10 * time.Second)
	require.Equal(t, "B BACKUP->MASTER,A BACKUP->MASTER,A send 100,B send 100", r.take(),
		"B's master went silent too: B takes A along")
	require.Equal(t, StateMaster, r.g.State())
	require.Equal(t, "gm,gn GROUP 'G' MASTER 0", r.takeNotices())

	// A higher priority advert on B: B steps down, A follows without a
	// priority 0 advert.
	r.b.Receive(peerH, &Advert{Version: 2, VRID: 1, Priority: 200, Interval: time.Second})
	require.Equal(t, "B MASTER->BACKUP,A MASTER->BACKUP", r.take())
	require.Equal(t, StateBackup, r.g.State())
	require.Equal(t, "gb,gn GROUP 'G' BACKUP 0", r.takeNotices())
}

func TestSyncGroupFault(t *testing.T) {
	cfg := baseFSM()
	cfg.WantMaster = true
	r := newGroupRig(t, cfg, cfg)
	r.a.Start()
	r.b.Start()
	r.advance(3700 * time.Millisecond) // Master_Down_Interval, as keepalived
	require.Equal(t, StateMaster, r.a.State())
	require.Equal(t, StateMaster, r.b.State())
	r.take()
	r.takeNotices()

	// B's interface goes down: both leave MASTER with priority 0.
	r.fault(r.b, true)
	require.Equal(t, "B send 0,B MASTER->FAULT,A send 0,A MASTER->FAULT", r.take())
	require.Equal(t, StateFault, r.g.State())
	require.Equal(t, "gf,gn GROUP 'G' FAULT 0", r.takeNotices())
	r.advance(10 * time.Second)
	require.Empty(t, r.take(), "nobody sends or moves while the group is faulty")

	// A's own fault comes and goes while B is still faulty: nothing moves.
	r.fault(r.a, true)
	r.fault(r.a, false)
	require.Empty(t, r.take())
	require.Equal(t, StateFault, r.a.State())

	// B recovers: the group returns to BACKUP, then to MASTER together.
	r.fault(r.b, false)
	require.Equal(t, "A FAULT->BACKUP,B FAULT->BACKUP", r.take())
	require.Equal(t, StateBackup, r.g.State())
	require.Equal(t, "gb,gn GROUP 'G' BACKUP 0", r.takeNotices())
	r.advance(3700 * time.Millisecond)
	require.Equal(t, "B BACKUP->MASTER,A BACKUP->MASTER,A send 100,B send 100", r.take())
	require.Equal(t, StateMaster, r.g.State())
}

func TestSyncGroupStartsInFault(t *testing.T) {
	cfg := baseFSM()
	r := newGroupRig(t, cfg, cfg)
	r.b.SetFault(true, "interface down")
	r.g.update()
	r.a.Start()
	r.b.Start()
	require.Equal(t, "A INIT->FAULT,B INIT->FAULT", r.take())
	require.Equal(t, StateFault, r.g.State())
	r.fault(r.b, false)
	require.Equal(t, "A FAULT->BACKUP,B FAULT->BACKUP", r.take())
}

func TestSyncGroupPriorityZeroTakesGroup(t *testing.T) {
	cfg := baseFSM()
	r := newGroupRig(t, cfg, cfg)
	r.a.Start()
	r.b.Start()
	r.take()
	// The other router's master of A resigns: A's skew timer fires, but
	// B still hears its master, so A waits; an advert for A cancels the
	// wish; when both masters are gone, both take over together.
	r.a.Receive(peerL, &Advert{Version: 2, VRID: 1, Priority: 0, Interval: time.Second})
	r.b.Receive(peerL, &Advert{Version: 2, VRID: 1, Priority: 150, Interval: time.Second})
	r.advance(time.Second)
	require.Empty(t, r.take())
	require.True(t, r.a.WantsMaster())
	r.a.Receive(peerL, &Advert{Version: 2, VRID: 1, Priority: 150, Interval: time.Second})
	require.False(t, r.a.WantsMaster())
	r.b.Receive(peerL, &Advert{Version: 2, VRID: 1, Priority: 0, Interval: time.Second})
	r.advance(time.Second)
	require.Empty(t, r.take(), "B wants master, A hears its master")
	r.advance(3 * time.Second)
	require.Equal(t, "A BACKUP->MASTER,B BACKUP->MASTER,B send 100,A send 100", r.take())
}
