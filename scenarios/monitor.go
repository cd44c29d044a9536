package scenarios

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"halab/assert"
	"halab/faults"
	"halab/lab"
)

// sampleEvery is how often the monitor looks at the lab.
const sampleEvery = 200 * time.Millisecond

// monitor samples VIP holders and VRRP states while a scenario runs. It is
// also the StatusSource expectations read: for the reference
// implementation, whose keepalived publishes no status file, a node's VRRP
// state is derived from the VIPs it holds (MASTER when it holds one).
type monitor struct {
	l       *lab.Lab
	eng     *faults.Engine
	impl    string
	vrrp    []Daemon // keepalived daemons
	vips    []netip.Addr
	mu      sync.Mutex
	samples []Sample
}

func newMonitor(l *lab.Lab, eng *faults.Engine, s *Scenario, impl string) *monitor {
	m := &monitor{l: l, eng: eng, impl: impl}
	for _, d := range s.Daemons {
		if d.Kind == KindKeepalived {
			m.vrrp = append(m.vrrp, d)
		}
	}
	for _, v := range watchedVIPs(s) {
		m.vips = append(m.vips, netip.MustParseAddr(v))
	}
	return m
}

// watchedVIPs are the scenario's vips and those its expectations name.
func watchedVIPs(s *Scenario) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range s.VIPs {
		add(v)
	}
	for _, st := range s.Steps {
		for _, e := range []*Expect{st.Wait, st.Expect} {
			if e != nil {
				add(e.VIP)
			}
		}
	}
	return out
}

// vrrpNodes are the nodes that run a VRRP daemon, in topology order.
func (m *monitor) vrrpNodes() []string {
	var out []string
	for _, n := range m.l.NodeNames() {
		if slices.ContainsFunc(m.vrrp, func(d Daemon) bool { return d.Node == n }) {
			out = append(out, n)
		}
	}
	return out
}

// Status reads the lab's status with VRRP states filled in for every node
// that runs a VRRP daemon: DOWN when the daemon is not running, derived from
// the VIPs for the reference implementation.
func (m *monitor) Status() ([]lab.NodeStatus, error) {
	st, err := m.l.Status()
	if err != nil {
		return nil, err
	}
	for i := range st {
		n := &st[i]
		var ds []Daemon
		for _, d := range m.vrrp {
			if d.Node == n.Name {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			continue
		}
		alive := false
		for _, d := range ds {
			alive = alive || m.eng.Running(d.Node, d.Name)
		}
		switch {
		case !alive:
			n.VRRP = []lab.VRRPStatus{{Name: "*", State: "DOWN"}}
		case m.impl == ImplReference || len(n.VRRP) == 0:
			state := "BACKUP"
			for _, v := range m.vips {
				if len(assert.HoldersIn([]lab.NodeStatus{*n}, v)) > 0 {
					state = "MASTER"
				}
			}
			n.VRRP = []lab.VRRPStatus{{Name: "*", State: state}}
		}
	}
	return st, nil
}

// sample takes one sample and keeps it when something changed.
func (m *monitor) sample() {
	st, err := m.Status()
	if err != nil {
		return
	}
	s := Sample{Time: time.Now(), VRRP: map[string]string{}, Holders: map[string][]string{}}
	for _, n := range st {
		if len(n.VRRP) == 0 {
			continue
		}
		state := n.VRRP[0].State
		for _, in := range n.VRRP[1:] {
			if in.State != state {
				state = "MIXED"
			}
		}
		s.VRRP[n.Name] = state
	}
	for _, v := range m.vips {
		s.Holders[v.String()] = assert.HoldersIn(st, v)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if k := len(m.samples); k > 0 {
		last := m.samples[k-1]
		if maps.Equal(last.VRRP, s.VRRP) && maps.EqualFunc(last.Holders, s.Holders, slices.Equal) {
			return
		}
	}
	m.samples = append(m.samples, s)
}

// run samples until ctx ends, then takes a last sample.
func (m *monitor) run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		m.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *monitor) result() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sample(nil), m.samples...)
}
