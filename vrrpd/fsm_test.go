package vrrpd

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recHooks struct {
	events []string
}

func (h *recHooks) SendAdvert(prio uint8) { h.events = append(h.events, fmt.Sprintf("send %d", prio)) }
func (h *recHooks) Transition(from, to State, reason string) {
	h.events = append(h.events, fmt.Sprintf("%v->%v", from, to))
}
func (h *recHooks) LowerPrioAdvert(src netip.Addr, prio uint8) {
	h.events = append(h.events, fmt.Sprintf("lower %v %d", src, prio))
}

func (h *recHooks) take() string {
	s := strings.Join(h.events, ",")
	h.events = nil
	return s
}

var (
	local = mustAddr("10.0.1.2")
	peerH = mustAddr("10.0.1.3") // higher address than local
	peerL = mustAddr("10.0.1.1")
)

func baseFSM() FSMConfig {
	return FSMConfig{Name: "V", Version: 2, VRID: 1, Priority: 100, AdvertInt: time.Second, Preempt: true}
}

func TestSkewAndDownInterval(t *testing.T) {
	tests := []struct {
		version int
		prio    int
		adv     time.Duration
		skew    time.Duration
		down    time.Duration
	}{
		{2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{2, 95, time.Second, 628906250, 3628906250},
		{2, 254, time.Second, 7812500, 3007812500},
		{3, 100, time.Second, 600 * time.Millisecond, 3600 * time.Millisecond},         // 156*100/256 = 60cs
		{3, 95, time.Second, 620 * time.Millisecond, 3620 * time.Millisecond},          // 161*100/256 = 62cs
		{3, 100, 50 * time.Millisecond, 30 * time.Millisecond, 180 * time.Millisecond}, // 156*5/256 = 3cs
		{3, 254, 50 * time.Millisecond, 0, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("v%d/p%d/%v", tt.version, tt.prio, tt.adv), func(t *testing.T) {
			c := baseFSM()
			c.Version, c.Priority, c.AdvertInt = tt.version, tt.prio, tt.adv
			f := NewFSM(c, NewFakeClock(), &recHooks{}, local)
			assert.Equal(t, tt.skew, f.Skew())
			assert.Equal(t, tt.down, f.MasterDownInterval())
		})
	}
}

// step is one action of a scenario, with the events it must produce.
type step struct {
	do    func(f *FSM, c *FakeClock)
	want  string
	state State
}

func adv(c *FakeClock, d time.Duration) func(*FSM, *FakeClock) {
	return func(f *FSM, c *FakeClock) { c.Advance(d); f.Tick() }
}

func rx(src netip.Addr, prio uint8) func(*FSM, *FakeClock) {
	return func(f *FSM, c *FakeClock) {
		f.Receive(src, &Advert{Version: f.cfg.Version, VRID: f.cfg.VRID, Priority: prio, Interval: f.cfg.AdvertInt})
	}
}

func start() func(*FSM, *FakeClock) { return func(f *FSM, c *FakeClock) { f.Start() } }

func TestFSMScenarios(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*FSMConfig)
		steps []step
	}{
		{
			name: "backup times out to master after 3*adv+skew",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 3600*time.Millisecond), want: "", state: StateBackup},
				{do: adv(nil, 10*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: adv(nil, time.Second), want: "send 100", state: StateMaster},
			},
		},
		{
			name: "higher priority master keeps us backup",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: rx(peerL, 150), state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: rx(peerL, 150), state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: adv(nil, 700*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
			},
		},
		{
			// As keepalived 2.2.7 does (measured): no shortcut below 255.
			name: "state MASTER waits Master_Down_Interval like a backup",
			cfg:  func(c *FSMConfig) { c.WantMaster = true },
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 3600*time.Millisecond), state: StateBackup},
				{do: adv(nil, 10*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
			},
		},
		{
			name: "address owner is master at once",
			cfg:  func(c *FSMConfig) { c.WantMaster = true; c.Priority = 255 },
			steps: []step{
				{do: start(), want: "INIT->MASTER,send 255", state: StateMaster},
			},
		},
		{
			name: "owner without state MASTER waits like everyone",
			cfg:  func(c *FSMConfig) { c.Priority = 255 },
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: adv(nil, 10*time.Millisecond), want: "BACKUP->MASTER,send 255", state: StateMaster},
			},
		},
		{
			name: "priority 0 from master: take over after skew",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: rx(peerL, 150), state: StateBackup},
				{do: rx(peerL, 0), state: StateBackup},
				{do: adv(nil, 600*time.Millisecond), state: StateBackup},
				{do: adv(nil, 10*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
			},
		},
		{
			name: "preemption: lower priority master is overridden after the down interval",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, time.Second), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, time.Second), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, 1700*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: rx(peerL, 90), want: "send 100,lower 10.0.1.1 90", state: StateMaster},
			},
		},
		{
			name: "nopreempt: lower priority master keeps the role",
			cfg:  func(c *FSMConfig) { c.Preempt = false },
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
			},
		},
		{
			name: "preempt_delay tolerates a lower master for a while",
			cfg:  func(c *FSMConfig) { c.PreemptDelay = 5 * time.Second },
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, 3*time.Second), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup},
				{do: adv(nil, 1900*time.Millisecond), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup}, // 4.9s: still tolerated, timer reset
				{do: adv(nil, 200*time.Millisecond), state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup}, // 5.1s: ignored now
				{do: adv(nil, 3500*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
			},
		},
		{
			name: "master yields to higher priority",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 4*time.Second), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: rx(peerL, 101), want: "MASTER->BACKUP", state: StateBackup},
			},
		},
		{
			name: "equal priority: higher address wins",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 4*time.Second), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: rx(peerL, 100), want: "send 100,lower 10.0.1.1 100", state: StateMaster},
				{do: rx(peerH, 100), want: "MASTER->BACKUP", state: StateBackup},
			},
		},
		{
			name: "master answers priority 0 with an advert",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 4*time.Second), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: rx(peerL, 0), want: "send 100", state: StateMaster},
			},
		},
		{
			name: "shutdown as master sends priority 0",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 4*time.Second), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: func(f *FSM, c *FakeClock) { f.Shutdown("SIGTERM") }, want: "send 0,MASTER->STOP", state: StateStop},
				{do: adv(nil, 10*time.Second), state: StateStop},
			},
		},
		{
			name: "fault and recovery",
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 4*time.Second), want: "BACKUP->MASTER,send 100", state: StateMaster},
				{do: func(f *FSM, c *FakeClock) { f.SetFault(true, "script chk failed") }, want: "send 0,MASTER->FAULT", state: StateFault},
				{do: adv(nil, 10*time.Second), state: StateFault},
				{do: func(f *FSM, c *FakeClock) { f.SetFault(false, "script chk ok") }, want: "FAULT->BACKUP", state: StateBackup},
				{do: adv(nil, 3700*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster},
			},
		},
		{
			name: "tracked priority drop lets the backup preempt (article)",
			cfg:  func(c *FSMConfig) { c.Priority = 95 },
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: adv(nil, 4*time.Second), want: "BACKUP->MASTER,send 95", state: StateMaster},
				{do: func(f *FSM, c *FakeClock) { f.SetPriority(85) }, state: StateMaster},
				{do: adv(nil, time.Second), want: "send 85", state: StateMaster},
				{do: rx(peerL, 90), want: "MASTER->BACKUP", state: StateBackup},
				{do: func(f *FSM, c *FakeClock) { f.SetPriority(95) }, state: StateBackup},
				{do: rx(peerL, 90), state: StateBackup}, // lower: ignored, we preempt
				{do: adv(nil, 3700*time.Millisecond), want: "BACKUP->MASTER,send 95", state: StateMaster},
			},
		},
		{
			name: "v3 backup learns the master's interval",
			cfg:  func(c *FSMConfig) { c.Version = 3; c.AdvertInt = time.Second },
			steps: []step{
				{do: start(), want: "INIT->BACKUP", state: StateBackup},
				{do: func(f *FSM, c *FakeClock) {
					f.Receive(peerL, &Advert{Version: 3, VRID: 1, Priority: 200, Interval: 100 * time.Millisecond})
				}, state: StateBackup},
				{do: adv(nil, 300*time.Millisecond), state: StateBackup},
				{do: adv(nil, 70*time.Millisecond), want: "BACKUP->MASTER,send 100", state: StateMaster}, // 3*100ms + 60ms
				{do: adv(nil, time.Second), want: "send 100", state: StateMaster},                        // sends at its own interval
			},
		},
		{
			name: "waiting for weight-0 scripts holds Initialize",
			steps: []step{
				{do: func(f *FSM, c *FakeClock) { f.SetWaiting(true); f.Start() }, state: StateInit},
				{do: adv(nil, 10*time.Second), state: StateInit},
				{do: func(f *FSM, c *FakeClock) { f.SetWaiting(false); f.Start() }, want: "INIT->BACKUP", state: StateBackup},
			},
		},
		{
			name: "fault at start",
			steps: []step{
				{do: func(f *FSM, c *FakeClock) { f.SetFault(true, "interface down"); f.Start() }, want: "INIT->FAULT", state: StateFault},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseFSM()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			clk := NewFakeClock()
			h := &recHooks{}
			f := NewFSM(cfg, clk, h, local)
			for i, s := range tt.steps {
				s.do(f, clk)
				require.Equal(t, s.want, h.take(), "step %d events", i)
				require.Equal(t, s.state, f.State(), "step %d state", i)
			}
		})
	}
}

func TestFakeClockTimer(t *testing.T) {
	c := NewFakeClock()
	tm := c.NewTimer(time.Second)
	c.Advance(999 * time.Millisecond)
	select {
	case <-tm.C():
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	select {
	case <-tm.C():
	default:
		t.Fatal("did not fire")
	}
	tm.Reset(time.Second)
	tm.Stop()
	c.Advance(2 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("stopped timer fired")
	default:
	}
}
