package vrrpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Options tune a Daemon.
type Options struct {
	// StatusFile is rewritten on every change and every second; empty
	// disables it.
	StatusFile string
	Logger     *slog.Logger
	Clock      Clock // RealClock when nil
}

// Daemon runs every vrrp_instance of a Config.
type Daemon struct {
	cfg   *Config
	opts  Options
	log   *slog.Logger
	clock Clock
	ctx   context.Context

	instances     []*instance
	byConn        map[*Conn]*instance
	events        chan any
	counters      map[*Script]*scriptCounter
	scriptsCancel context.CancelFunc
	statusDirty   bool
	started       chan struct{} // closed when Run has started the instances
	stopped       chan struct{} // closed when Run's loop ends
}

type rxEvent struct {
	conn *Conn
	pkt  Packet
}

type linkEvent struct {
	name string
	up   bool
}

// NewDaemon prepares a daemon; Run opens sockets and starts the instances.
func NewDaemon(cfg *Config, opts Options) *Daemon {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	return &Daemon{cfg: cfg, opts: opts, log: opts.Logger, clock: opts.Clock,
		events: make(chan any, 256), counters: map[*Script]*scriptCounter{}, byConn: map[*Conn]*instance{},
		started: make(chan struct{}), stopped: make(chan struct{})}
}

// Run runs until ctx is cancelled, then shuts down gracefully: masters send
// priority 0 and every virtual address is removed.
func (d *Daemon) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.ctx = runCtx
	for _, ic := range d.cfg.Instances {
		in, err := d.openInstance(ic)
		if err != nil {
			d.closeAll()
			return err
		}
		d.instances = append(d.instances, in)
	}
	d.buildGroups()
	d.startScripts(nil)
	if err := d.watchLinks(runCtx); err != nil {
		d.log.Warn("interface tracking disabled", "err", err)
	}
	for _, in := range d.instances {
		in.retrack("startup")
		in.fsm.Start()
	}
	d.statusDirty = true
	close(d.started)
	d.loop(ctx)
	close(d.stopped)
	d.shutdown()
	return nil
}

func (d *Daemon) loop(ctx context.Context) {
	timer := d.clock.NewTimer(time.Hour)
	defer timer.Stop()
	statusEvery := d.clock.NewTimer(time.Second)
	defer statusEvery.Stop()
	for {
		d.writeStatusIfDirty()
		timer.Reset(d.nextWait())
		select {
		case <-ctx.Done():
			return
		case ev := <-d.events:
			d.handle(ev)
		case <-timer.C():
			for _, in := range d.instances {
				in.fsm.Tick()
			}
		case <-statusEvery.C():
			statusEvery.Reset(time.Second)
			d.statusDirty = true
		}
	}
}

// openInstance builds an instance and opens its socket and reader.
func (d *Daemon) openInstance(ic *Instance) (*instance, error) {
	in, err := newInstance(d, ic)
	if err != nil {
		return nil, err
	}
	conn, err := OpenConn(d.ctx, ic.Interface, ic.McastDst, ic.Unicast())
	if err != nil {
		return nil, fmt.Errorf("(%s) %w", ic.Name, err)
	}
	in.conn = conn
	d.byConn[conn] = in
	go d.readLoop(d.ctx, conn)
	d.log.Info(fmt.Sprintf("(%s) started", ic.Name), "interface", ic.Interface, "vrid", ic.VRID,
		"version", ic.Version, "priority", ic.Priority, "source", in.src.String(), "unicast", ic.Unicast())
	return in, nil
}

// startScripts runs every tracked script of the instances once each (a
// script shared by instances runs once). Counters of scripts in old with
// the same name and settings carry over, so a reload keeps their state.
func (d *Daemon) startScripts(old map[*Script]*scriptCounter) {
	if d.scriptsCancel != nil {
		d.scriptsCancel()
	}
	ctx, cancel := context.WithCancel(d.ctx)
	d.scriptsCancel = cancel
	d.counters = map[*Script]*scriptCounter{}
	for _, in := range d.instances {
		for s := range in.scriptIdx {
			if _, ok := d.counters[s]; ok {
				continue
			}
			c := newScriptCounter(s.Rise, s.Fall, s.InitFail)
			for os, oc := range old {
				if sameScript(os, s) {
					c = oc
				}
			}
			d.counters[s] = c
			go runTrackedScript(ctx, d.clock, s, d.events)
		}
	}
}

func sameScript(a, b *Script) bool {
	return a.Name == b.Name && a.Script == b.Script && a.Rise == b.Rise && a.Fall == b.Fall &&
		a.Interval == b.Interval && a.Timeout == b.Timeout
}

// nextWait is the time until the earliest FSM deadline.
func (d *Daemon) nextWait() time.Duration {
	now := d.clock.Now()
	wait := time.Hour
	for _, in := range d.instances {
		dl := in.fsm.Deadline()
		if dl.IsZero() {
			continue
		}
		if w := dl.Sub(now); w < wait {
			wait = w
		}
	}
	if wait < 0 {
		wait = 0
	}
	return wait
}

func (d *Daemon) handle(ev any) {
	switch e := ev.(type) {
	case rxEvent:
		// Counters reach the status file with the periodic write;
		// transitions mark it dirty themselves.
		in := d.byConn[e.conn]
		if in == nil {
			return // a reader of an instance removed by a reload
		}
		in.receive(e.pkt)
		// A receive can move a deadline to "now" (priority 0 with zero skew).
		in.fsm.Tick()
		return
	case scriptResult:
		c := d.counters[e.script]
		if c == nil || !c.record(e.ok) {
			return
		}
		d.log.Info(fmt.Sprintf("VRRP_Script(%s) %s", e.script.Name, map[bool]string{true: "succeeded", false: "failed"}[c.status == StatusOK]),
			"result", e.detail)
		for _, in := range d.instances {
			if _, ok := in.scriptIdx[e.script]; ok {
				in.scriptResult(e, c.status)
			}
		}
	case linkEvent:
		for _, in := range d.instances {
			in.linkChange(e.name, e.up)
		}
	case reloadEvent:
		d.reload(e.cfg)
		close(e.done)
	}
	d.statusDirty = true
}

func (d *Daemon) readLoop(ctx context.Context, conn *Conn) {
	buf := make([]byte, 65536)
	for {
		p, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			d.log.Warn("read error", "interface", conn.Interface().Name, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		select {
		case d.events <- rxEvent{conn: conn, pkt: p}:
		case <-ctx.Done():
			return
		}
	}
}

// buildGroups joins instances into their vrrp_sync_groups.
func (d *Daemon) buildGroups() {
	for _, sg := range d.cfg.SyncGroups {
		g := newSyncGroup(sg, d.log, func(cmd string) { runNotify(d.log, cmd) })
		for _, in := range d.instances {
			if in.cfg.SyncGroup == sg.Name {
				in.group = g
				g.add(in.fsm)
			}
		}
	}
}

// watchLinks forwards up/down changes of links; instances pick the ones
// they track (a reload may add tracked interfaces).
func (d *Daemon) watchLinks(ctx context.Context) error {
	ch := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(ch, ctx.Done(), netlink.LinkSubscribeOptions{}); err != nil {
		return fmt.Errorf("link subscribe: %w", err)
	}
	go func() {
		for u := range ch {
			a := u.Attrs()
			if a == nil {
				continue
			}
			up := a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0
			select {
			case d.events <- linkEvent{name: a.Name, up: up}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

func (d *Daemon) shutdown() {
	for _, in := range d.instances {
		in.fsm.Shutdown("daemon stopping")
	}
	d.statusDirty = true
	d.writeStatusIfDirty()
	d.closeAll()
}

func (d *Daemon) closeAll() {
	for _, in := range d.instances {
		in.stopGARP()
		if in.conn != nil {
			in.conn.Close()
		}
	}
}

// Status returns the current status document.
func (d *Daemon) status() *Status {
	s := &Status{PID: os.Getpid(), RouterID: d.cfg.Global.RouterID, Updated: d.clock.Now()}
	for _, in := range d.instances {
		s.Instances = append(s.Instances, in.status())
	}
	return s
}

func (d *Daemon) writeStatusIfDirty() {
	if !d.statusDirty || d.opts.StatusFile == "" {
		return
	}
	d.statusDirty = false
	if err := writeStatus(d.opts.StatusFile, d.status()); err != nil {
		d.log.Warn("status file not written", "err", err)
	}
}
