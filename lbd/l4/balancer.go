package l4

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// datapath is what the Balancer drives; *Datapath implements it.
type datapath interface {
	Program(specs []ServiceSpec, backends [][]Backend) error
	SetBackends(i int, backends []Backend) (bool, error)
}

// BalancerOptions tune a Balancer; the zero value is lbd's behaviour.
type BalancerOptions struct {
	// Dial opens health check connections; DefaultDial if nil.
	Dial DialFunc
	// Logger receives keepalived-style check and pool lines; slog.Default() if nil.
	Logger *slog.Logger
	// RetryInterval spaces retries of a datapath update that failed; 1s if 0.
	RetryInterval time.Duration
}

// Balancer runs lbd's L4 mode for a Config: it programs the datapath, runs
// every real server's health checkers and moves real servers in and out of
// the rotation as they flap.
type Balancer struct {
	cfg  *Config
	dp   datapath
	dial DialFunc
	log  *slog.Logger
	wait time.Duration
}

// NewBalancer prepares a Balancer; nothing runs until Run.
func NewBalancer(cfg *Config, dp datapath, o BalancerOptions) *Balancer {
	b := &Balancer{cfg: cfg, dp: dp, dial: o.Dial, log: o.Logger, wait: o.RetryInterval}
	if b.dial == nil {
		b.dial = DefaultDial
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.wait == 0 {
		b.wait = time.Second
	}
	return b
}

// checkEvent is a checker's state transition.
type checkEvent struct {
	svc, rs, check int
	up             bool
}

// poolState is the health of one virtual service's real servers.
type poolState struct {
	vs       *VirtualServer
	checksUp [][]bool // [real server][checker]
	serverUp []bool
	quorum   bool
	dirty    bool // the datapath does not reflect the state yet
}

func (p *poolState) backends() (live []Backend, weight int) {
	for i, rs := range p.vs.Reals {
		if p.serverUp[i] {
			live = append(live, Backend{Addr: rs.Addr, Weight: rs.Weight})
			weight += rs.Weight
		}
	}
	return live, weight
}

// datapathBackends are the backends to program: the live real servers, or
// none (so the sorry server answers) when quorum is lost and a sorry server
// is configured.
func (p *poolState) datapathBackends() []Backend {
	live, _ := p.backends()
	if !p.quorum && p.vs.Sorry.IsValid() {
		return nil
	}
	return live
}

// Run programs the datapath and runs the health checks until ctx ends. It
// returns an error only if the datapath cannot be programmed at start.
func (b *Balancer) Run(ctx context.Context) error {
	pools := make([]*poolState, len(b.cfg.Services))
	specs := make([]ServiceSpec, len(pools))
	initial := make([][]Backend, len(pools))
	for i, vs := range b.cfg.Services {
		p := &poolState{vs: vs, checksUp: make([][]bool, len(vs.Reals)), serverUp: make([]bool, len(vs.Reals))}
		for j, rs := range vs.Reals {
			p.checksUp[j] = make([]bool, len(rs.Checks))
			for k := range rs.Checks {
				p.checksUp[j][k] = !rs.Alpha
			}
			p.serverUp[j] = !rs.Alpha || len(rs.Checks) == 0
		}
		p.quorum = b.quorumHolds(p)
		if !p.quorum {
			b.logQuorum(p)
		}
		pools[i], specs[i], initial[i] = p, vs.Spec(), p.datapathBackends()
	}
	if err := b.dp.Program(specs, initial); err != nil {
		return err
	}
	for _, p := range pools {
		live, _ := p.backends()
		b.log.Info(fmt.Sprintf("Activating VS %s with %d of %d real servers", p.vs.Spec(), len(live), len(p.vs.Reals)))
	}

	events := make(chan checkEvent)
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, p := range pools {
		for j, rs := range p.vs.Reals {
			for k, ck := range rs.Checks {
				report := func(up bool) {
					select {
					case events <- checkEvent{i, j, k, up}:
					case <-cctx.Done():
					}
				}
				c := newChecker(ck, b.dial, p.checksUp[j][k], b.log.With("vs", p.vs.Spec().String()), report)
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.run(cctx)
				}()
			}
		}
	}

	retry := time.NewTicker(b.wait)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			p := pools[ev.svc]
			p.checksUp[ev.rs][ev.check] = ev.up
			b.apply(ev.svc, p, ev.rs)
		case <-retry.C:
			for i, p := range pools {
				if p.dirty {
					b.sync(i, p)
				}
			}
		}
	}
}

// apply recomputes real server rs of pool i after one of its checkers moved.
func (b *Balancer) apply(i int, p *poolState, rs int) {
	up := true
	for _, c := range p.checksUp[rs] {
		up = up && c
	}
	if up == p.serverUp[rs] {
		return
	}
	p.serverUp[rs] = up
	real := p.vs.Reals[rs]
	be := Backend{Addr: real.Addr}
	if up {
		b.log.Info(fmt.Sprintf("Adding service %s to VS %s", be, p.vs.Spec()), "weight", real.Weight)
	} else {
		b.log.Info(fmt.Sprintf("Removing service %s from VS %s", be, p.vs.Spec()))
	}
	if q := b.quorumHolds(p); q != p.quorum {
		p.quorum = q
		b.logQuorum(p)
	}
	p.dirty = true
	b.sync(i, p)
}

func (b *Balancer) quorumHolds(p *poolState) bool {
	_, w := p.backends()
	return w >= p.vs.Quorum
}

func (b *Balancer) logQuorum(p *poolState) {
	_, w := p.backends()
	vs := p.vs.Spec()
	if p.quorum {
		b.log.Info(fmt.Sprintf("Gained quorum %d+0=%d <= %d for VS %s", p.vs.Quorum, p.vs.Quorum, w, vs))
		if p.vs.Sorry.IsValid() {
			b.log.Info(fmt.Sprintf("Removing sorry server %s from VS %s", Backend{Addr: p.vs.Sorry}, vs))
		}
		return
	}
	b.log.Info(fmt.Sprintf("Lost quorum %d-0=%d > %d for VS %s", p.vs.Quorum, p.vs.Quorum, w, vs))
	if p.vs.Sorry.IsValid() {
		b.log.Info(fmt.Sprintf("Adding sorry server %s to VS %s", Backend{Addr: p.vs.Sorry}, vs))
	}
}

// sync pushes pool i's state to the datapath in one transaction.
func (b *Balancer) sync(i int, p *poolState) {
	if _, err := b.dp.SetBackends(i, p.datapathBackends()); err != nil {
		b.log.Error("datapath update failed, will retry", "vs", p.vs.Spec().String(), "err", err)
		return
	}
	p.dirty = false
}
