package vrrpd

import (
	"fmt"
	"net/netip"
	"slices"
)

type reloadEvent struct {
	cfg  *Config
	done chan struct{}
}

// Reload replaces the running configuration, as keepalived does on SIGHUP:
// an instance with the same name, interface, VRID, version and addressing
// keeps its state (a master stays master and keeps its socket), with its
// new priority, timers, tracking and addresses; instances that are gone
// stop (a master sends priority 0 and removes its addresses); new
// instances start in Initialize. The caller checks the new configuration
// first: a configuration that does not load is never passed here. Reload
// returns true once the daemon has switched, false when it is not running.
func (d *Daemon) Reload(cfg *Config) bool {
	ev := reloadEvent{cfg: cfg, done: make(chan struct{})}
	select {
	case <-d.started:
	default:
		return false
	}
	select {
	case d.events <- ev:
	case <-d.stopped:
		return false
	}
	select {
	case <-ev.done:
		return true
	case <-d.stopped:
		return false
	}
}

// sameIdentity reports whether a running instance can carry on under a
// new configuration without a new socket.
func sameIdentity(a, b *Instance) bool {
	return a.Name == b.Name && a.Interface == b.Interface && a.VRID == b.VRID && a.Version == b.Version &&
		a.McastDst == b.McastDst && a.SrcIP == b.SrcIP && a.Unicast() == b.Unicast()
}

func (d *Daemon) reload(cfg *Config) {
	d.log.Info("Reloading configuration", "instances", len(cfg.Instances))
	old := map[string]*instance{}
	for _, in := range d.instances {
		old[in.cfg.Name] = in
		in.group = nil // groups are rebuilt below
	}
	oldCounters := d.counters
	d.cfg = cfg
	var next, added []*instance
	kept := map[*instance]bool{}
	for _, ic := range cfg.Instances {
		if o := old[ic.Name]; o != nil && sameIdentity(o.cfg, ic) {
			in, err := newInstance(d, ic)
			if err != nil {
				d.log.Error(fmt.Sprintf("(%s) not reloaded, keeping it as it was", ic.Name), "err", err)
				in = o
			} else {
				in.adopt(o)
			}
			kept[o] = true
			next = append(next, in)
			continue
		}
		in, err := d.openInstance(ic)
		if err != nil {
			d.log.Error(fmt.Sprintf("(%s) not started", ic.Name), "err", err)
			continue
		}
		next = append(next, in)
		added = append(added, in)
	}
	for _, o := range d.instances {
		if kept[o] {
			continue
		}
		d.log.Info(fmt.Sprintf("(%s) removed by reload", o.cfg.Name))
		o.fsm.Shutdown("removed from the configuration")
		o.stopGARP()
		delete(d.byConn, o.conn)
		o.conn.Close()
	}
	d.instances = next
	d.buildGroups()
	d.startScripts(oldCounters)
	for _, in := range d.instances {
		for s, idx := range in.scriptIdx {
			if c := d.counters[s]; c != nil && c.status != StatusInit {
				for _, i := range idx {
					in.tracked[i].Status = c.status
				}
			}
		}
	}
	for _, in := range d.instances {
		if in.group != nil {
			in.group.prime()
		} else {
			in.fsm.SetGroupFault(false, "no longer in a sync group")
		}
	}
	for _, in := range d.instances {
		in.retrack("reload")
		if slices.Contains(added, in) {
			in.fsm.Start()
		}
	}
	d.statusDirty = true
}

// adopt takes over a running instance's socket, state and counters; a
// master updates its addresses to the new list.
func (in *instance) adopt(o *instance) {
	o.stopGARP()
	in.conn = o.conn
	in.d.byConn[in.conn] = in
	in.drops, in.sendErrors = o.drops, o.sendErrors
	in.lastTransition, in.lastReason = o.lastTransition, o.lastReason
	in.fsm.adopt(o.fsm)
	if in.fsm.State() != StateMaster {
		return
	}
	want := map[netip.Prefix]string{}
	for _, v := range append(append([]VIP(nil), in.cfg.VIPs...), in.cfg.ExcludedVIPs...) {
		want[v.Prefix] = v.Dev
	}
	for _, v := range append(append([]VIP(nil), o.cfg.VIPs...), o.cfg.ExcludedVIPs...) {
		if dev, ok := want[v.Prefix]; !ok || dev != v.Dev {
			if err := DelVIP(v); err != nil {
				in.log.Error("cannot remove virtual address", "vip", v.Prefix.String(), "dev", v.Dev, "err", err)
			}
		}
	}
	in.addVIPs()
	in.startGARP()
}
