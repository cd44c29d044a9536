package vrrpd

import (
	"fmt"
	"io"
	"strings"
)

// Dump prints the effective configuration, every default resolved.
func (c *Config) Dump(w io.Writer) {
	p := func(indent int, format string, a ...any) {
		fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, a...))
	}
	g := c.Global
	p(0, "global_defs {")
	p(1, "router_id %s", g.RouterID)
	p(1, "vrrp_version %d", g.Version)
	p(1, "vrrp_mcast_group4 %s", g.McastGroup4)
	dumpGARP(p, "vrrp_", g.GARP)
	p(1, "vrrp_strict %v", g.Strict)
	p(0, "}")
	for _, s := range c.Scripts {
		p(0, "vrrp_script %s {  # %s", s.Name, s.Pos)
		p(1, "script %q", s.Script)
		p(1, "interval %v", s.Interval.Seconds())
		p(1, "timeout %v", s.Timeout.Seconds())
		w := fmt.Sprint(s.Weight)
		if s.Reverse {
			w += " reverse"
		}
		p(1, "weight %s", w)
		p(1, "rise %d", s.Rise)
		p(1, "fall %d", s.Fall)
		if s.InitFail {
			p(1, "init_fail")
		}
		p(0, "}")
	}
	for _, in := range c.Instances {
		p(0, "vrrp_instance %s {  # %s", in.Name, in.Pos)
		p(1, "interface %s", in.Interface)
		st := "BACKUP"
		if in.WantMaster {
			st = "MASTER"
		}
		p(1, "state %s", st)
		p(1, "virtual_router_id %d", in.VRID)
		p(1, "priority %d", in.Priority)
		p(1, "advert_int %v", in.AdvertInt.Seconds())
		p(1, "version %d", in.Version)
		if in.AuthType != "" {
			p(1, "authentication {")
			p(2, "auth_type %s", in.AuthType)
			p(2, "auth_pass %s", in.AuthPass)
			p(1, "}")
		}
		if in.Preempt {
			p(1, "preempt")
		} else {
			p(1, "nopreempt")
		}
		p(1, "preempt_delay %v", in.PreemptDelay.Seconds())
		if len(in.TrackScripts) > 0 {
			p(1, "track_script {")
			for _, ts := range in.TrackScripts {
				r := ""
				if ts.Reverse {
					r = " reverse"
				}
				p(2, "%s weight %d%s", ts.Script.Name, ts.Weight, r)
			}
			p(1, "}")
		}
		if len(in.TrackInterfaces) > 0 {
			p(1, "track_interface {")
			for _, ti := range in.TrackInterfaces {
				p(2, "%s weight %d", ti.Name, ti.Weight)
			}
			p(1, "}")
		}
		if in.DontTrackPrimary {
			p(1, "dont_track_primary")
		}
		for _, list := range []struct {
			kw   string
			vips []VIP
		}{{"virtual_ipaddress", in.VIPs}, {"virtual_ipaddress_excluded", in.ExcludedVIPs}} {
			if len(list.vips) == 0 {
				continue
			}
			p(1, "%s {", list.kw)
			for _, v := range list.vips {
				line := fmt.Sprintf("%s dev %s", v.Prefix, v.Dev)
				if v.Label != "" {
					line += " label " + v.Label
				}
				if v.Brd.IsValid() {
					line += " brd " + v.Brd.String()
				}
				if v.Scope != "" {
					line += " scope " + v.Scope
				}
				p(2, "%s", line)
			}
			p(1, "}")
		}
		if in.SrcIP.IsValid() {
			p(1, "unicast_src_ip %s", in.SrcIP)
		}
		if in.Unicast() {
			p(1, "unicast_peer {")
			for _, u := range in.UnicastPeers {
				p(2, "%s", u.Addr)
			}
			p(1, "}")
			p(1, "unicast_ttl %d", in.UnicastTTL)
		} else {
			p(1, "mcast_dst_ip %s", in.McastDst)
		}
		dumpGARP(p, "", in.GARP)
		p(1, "down_timer_adverts %d", in.DownTimerAdverts)
		for _, n := range []struct{ kw, v string }{{"notify_master", in.NotifyMaster}, {"notify_backup", in.NotifyBackup},
			{"notify_fault", in.NotifyFault}, {"notify_stop", in.NotifyStop}, {"notify", in.Notify}} {
			if n.v != "" {
				p(1, "%s %q", n.kw, n.v)
			}
		}
		if in.SyncGroup != "" {
			p(1, "# member of vrrp_sync_group %s", in.SyncGroup)
		}
		p(0, "}")
	}
	for _, sg := range c.SyncGroups {
		p(0, "vrrp_sync_group %s {  # %s", sg.Name, sg.Pos)
		p(1, "group {")
		for _, m := range sg.Members {
			p(2, "%s", m)
		}
		p(1, "}")
		p(0, "}")
	}
}

func dumpGARP(p func(int, string, ...any), prefix string, g GARP) {
	p(1, "%sgarp_master_delay %v", prefix, g.MasterDelay.Seconds())
	p(1, "%sgarp_master_repeat %d", prefix, g.MasterRepeat)
	p(1, "%sgarp_lower_prio_delay %v", prefix, g.LowerPrioDelay.Seconds())
	p(1, "%sgarp_lower_prio_repeat %d", prefix, g.LowerPrioRepeat)
	p(1, "%sgarp_master_refresh %v", prefix, g.MasterRefresh.Seconds())
	p(1, "%sgarp_master_refresh_repeat %d", prefix, g.MasterRefreshRepeat)
	if prefix != "" {
		p(1, "%sgarp_interval %v", prefix, g.Interval.Seconds())
	}
}
