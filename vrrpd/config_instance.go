package vrrpd

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"halab/internal/kaconf"
)

// instGARP holds per-instance garp overrides (nil = inherit).
type instGARP struct {
	masterDelay, lowerPrioDelay, refresh  *time.Duration
	masterRepeat, lowerPrioRepeat, refRep *int
}

func (b *builder) instance(s *kaconf.Stmt, cfg *Config, scripts map[string]*Script) (*Instance, error) {
	if len(s.Args) < 1 {
		return nil, fail(s, "vrrp_instance needs a name")
	}
	g := cfg.Global
	in := &Instance{
		Name: s.Args[0], Pos: s.Pos(), Priority: DefaultPriority, AdvertInt: DefaultAdvertInt,
		Version: g.Version, Preempt: true, UnicastTTL: 255, Accept: true,
		CheckUnicastSrc: g.CheckUnicastSrc, SkipCheckAdvAddr: g.SkipCheckAdvAddr,
		DownTimerAdverts: g.DownTimerAdverts, McastDst: g.McastGroup4,
		LowerPrioNoAdvert: g.LowerPrioNoAdvert, HigherPrioSendAdvert: g.HigherPrioSendAdvert,
		Strict: g.Strict,
	}
	var og instGARP
	vridSet := false
	var advertStmt *kaconf.Stmt
	var vipStmts, trackStmts []*kaconf.Stmt
	for _, st := range s.Block {
		var err error
		switch st.Keyword {
		case "interface":
			if err = needArgs(st, 1); err == nil {
				in.Interface = st.Args[0]
				if len(in.Interface) >= 16 {
					err = fail(st, "interface name '%s' too long", in.Interface)
				}
			}
		case "state":
			if err = needArgs(st, 1); err == nil {
				// keepalived 2.2 compares case-sensitively and falls back to
				// BACKUP; the article writes "state Master", so vrrpd reads
				// the state in any case and says where keepalived would differ.
				switch strings.ToUpper(st.Args[0]) {
				case "MASTER":
					in.WantMaster = true
				case "BACKUP":
					if in.WantMaster {
						b.warn(st, "(%s) state previously set as MASTER - ignoring BACKUP", in.Name)
					}
				default:
					b.warn(st, "(%s) unknown state '%s', defaulting to BACKUP", in.Name, st.Args[0])
					in.WantMaster = false
				}
				if up := strings.ToUpper(st.Args[0]); up != st.Args[0] && (up == "MASTER" || up == "BACKUP") {
					b.warn(st, "(%s) state '%s' read as %s (keepalived 2.2 reads only upper case and would start as BACKUP)", in.Name, st.Args[0], up)
				}
			}
		case "virtual_router_id":
			if err = needArgs(st, 1); err == nil {
				v, perr := strconv.Atoi(st.Args[0])
				if perr != nil || v < 1 || v > 255 {
					err = fail(st, "(%s) virtual_router_id '%s' is not in the range 1..255", in.Name, st.Args[0])
				}
				in.VRID, vridSet = v, true
			}
		case "priority":
			if err = needArgs(st, 1); err == nil {
				v, perr := strconv.Atoi(st.Args[0])
				if perr != nil || v < 1 || v > 255 {
					b.warn(st, "(%s) Priority not valid! must be between 1 & 255. Reconfigure !", in.Name)
				} else {
					in.Priority = v
				}
			}
		case "advert_int":
			in.AdvertInt, err = secondsArg(st, 0.01, 255)
			advertStmt = st
		case "version":
			in.Version, err = intArg(st, 2, 3)
		case "authentication":
			err = b.auth(st, in)
		case "track_script":
			trackStmts = append(trackStmts, st)
		case "track_interface":
			for _, e := range st.Block {
				ti, terr := b.trackInterface(e)
				if terr != nil {
					return nil, terr
				}
				in.TrackInterfaces = append(in.TrackInterfaces, ti)
			}
		case "dont_track_primary":
			in.DontTrackPrimary = true
		case "virtual_ipaddress", "virtual_ipaddress_excluded":
			vipStmts = append(vipStmts, st)
		case "nopreempt":
			in.Preempt = false
		case "preempt":
			in.Preempt = true
		case "preempt_delay":
			in.PreemptDelay, err = secondsArg(st, 0, 1000)
		case "notify_master":
			in.NotifyMaster, err = scriptArg(st)
		case "notify_backup":
			in.NotifyBackup, err = scriptArg(st)
		case "notify_fault":
			in.NotifyFault, err = scriptArg(st)
		case "notify_stop":
			in.NotifyStop, err = scriptArg(st)
		case "notify":
			in.Notify, err = scriptArg(st)
		case "unicast_src_ip", "mcast_src_ip":
			var a netip.Addr
			if a, err = addrArg(st); err == nil {
				if !a.Is4() {
					err = fail(st, "(%s) %s %s: only IPv4 is supported", in.Name, st.Keyword, a)
				}
				in.SrcIP = a
			}
		case "mcast_dst_ip":
			var a netip.Addr
			if a, err = addrArg(st); err == nil {
				if !a.Is4() || !a.IsMulticast() {
					err = fail(st, "(%s) mcast_dst_ip %s is not an IPv4 multicast address", in.Name, a)
				}
				in.McastDst = a
			}
		case "unicast_peer":
			for _, e := range st.Block {
				p, perr := b.unicastPeer(e)
				if perr != nil {
					return nil, perr
				}
				in.UnicastPeers = append(in.UnicastPeers, p)
			}
		case "unicast_ttl":
			in.UnicastTTL, err = intArg(st, 1, 255)
		case "check_unicast_src":
			in.CheckUnicastSrc = true
		case "skip_check_adv_addr":
			in.SkipCheckAdvAddr, err = boolArg(st)
		case "garp_master_delay":
			og.masterDelay, err = durPtr(secondsArg(st, 0, 255))
		case "garp_master_repeat":
			og.masterRepeat, err = intPtr(intArg(st, 1, 255))
		case "garp_lower_prio_delay":
			og.lowerPrioDelay, err = durPtr(secondsArg(st, 0, 255))
		case "garp_lower_prio_repeat":
			og.lowerPrioRepeat, err = intPtr(intArg(st, 1, 255))
		case "garp_master_refresh":
			og.refresh, err = durPtr(secondsArg(st, 0, 86400))
		case "garp_master_refresh_repeat":
			og.refRep, err = intPtr(intArg(st, 1, 255))
		case "down_timer_adverts":
			in.DownTimerAdverts, err = intArg(st, 1, 100)
		case "lower_prio_no_advert":
			in.LowerPrioNoAdvert, err = boolArg(st)
		case "higher_prio_send_advert":
			in.HigherPrioSendAdvert, err = boolArg(st)
		case "accept":
			in.Accept = true
		case "no_accept":
			in.Accept = false
		case "strict_mode":
			in.Strict, err = boolArg(st)
		case "smtp_alert", "debug", "notify_priority_changes", "kernel_rx_buf_size",
			"linkbeat_use_polling", "promote_secondaries", "notify_master_rx_lower_pri",
			"notify_deleted", "garp_extra_if", "track_src_ip", "old_unicast_checksum",
			"unicast_fault_no_peer", "native_ipv6":
			// Known to keepalived, no effect in vrrpd.
		case "use_vmac", "use_vmac_addr", "vmac_xmit_base", "use_ipvlan", "vrf",
			"virtual_routes", "virtual_rules", "track_file", "track_process", "track_bfd":
			b.limit(st, "(%s) %s is not supported by vrrpd - ignoring", in.Name, st.Keyword)
		default:
			b.warn(st, "Unknown keyword '%s'", st.Keyword)
		}
		if err != nil {
			return nil, err
		}
	}
	if !vridSet {
		return nil, fail(s, "(%s) the virtual router id must be set", in.Name)
	}
	if in.Interface == "" {
		return nil, fail(s, "(%s) no interface specified", in.Name)
	}
	for _, st := range vipStmts {
		for _, e := range st.Block {
			v, err := b.vip(e, in)
			if err != nil {
				return nil, err
			}
			if st.Keyword == "virtual_ipaddress" {
				in.VIPs = append(in.VIPs, v)
			} else {
				in.ExcludedVIPs = append(in.ExcludedVIPs, v)
			}
		}
	}
	if len(in.VIPs) == 0 {
		b.warns = append(b.warns, Warning{Pos: in.Pos, Msg: fmt.Sprintf("(%s) No VIP specified; at least one is sensible", in.Name)})
	}
	if len(in.VIPs) > 255 {
		return nil, fail(s, "(%s) too many virtual IP addresses (%d > 255)", in.Name, len(in.VIPs))
	}
	if in.Version == 2 && in.AdvertInt%time.Second != 0 {
		r := in.AdvertInt.Round(time.Second)
		if r < time.Second {
			r = time.Second
		}
		b.warn(advertStmt, "(%s) VRRPv2 advert_int must be whole seconds - using %v", in.Name, r)
		in.AdvertInt = r
	}
	if in.Version == 3 {
		if in.AdvertInt > 4095*10*time.Millisecond {
			return nil, fail(advertStmt, "(%s) VRRPv3 advert_int %v is above 40.95s", in.Name, in.AdvertInt)
		}
		in.AdvertInt = in.AdvertInt.Round(10 * time.Millisecond)
		if in.AuthType != "" {
			b.warn(s, "(%s) authentication is not supported with VRRPv3 - ignoring", in.Name)
			in.AuthType, in.AuthPass = "", ""
		}
	}
	for _, st := range trackStmts {
		for _, e := range st.Block {
			ts, ok, err := b.trackScript(e, scripts, in.Name)
			if err != nil {
				return nil, err
			}
			if ok {
				in.TrackScripts = append(in.TrackScripts, ts)
			}
		}
	}
	if in.Priority == PriorityOwner {
		for _, ts := range in.TrackScripts {
			if ts.Weight != 0 {
				b.warn(s, "(%s) ignoring tracking weights for address owner (priority 255)", in.Name)
				break
			}
		}
	}
	in.GARP = g.GARP
	if og.masterDelay != nil {
		in.GARP.MasterDelay = *og.masterDelay
		if og.lowerPrioDelay == nil {
			in.GARP.LowerPrioDelay = *og.masterDelay
		}
	}
	if og.masterRepeat != nil {
		in.GARP.MasterRepeat = *og.masterRepeat
		if og.lowerPrioRepeat == nil {
			in.GARP.LowerPrioRepeat = *og.masterRepeat
		}
	}
	if og.lowerPrioDelay != nil {
		in.GARP.LowerPrioDelay = *og.lowerPrioDelay
	}
	if og.lowerPrioRepeat != nil {
		in.GARP.LowerPrioRepeat = *og.lowerPrioRepeat
	}
	if og.refresh != nil {
		in.GARP.MasterRefresh = *og.refresh
	}
	if og.refRep != nil {
		in.GARP.MasterRefreshRepeat = *og.refRep
	}
	return in, nil
}

func (b *builder) auth(s *kaconf.Stmt, in *Instance) error {
	for _, st := range s.Block {
		switch st.Keyword {
		case "auth_type":
			if err := needArgs(st, 1); err != nil {
				return err
			}
			switch st.Args[0] {
			case "PASS":
				in.AuthType = "PASS"
			case "AH":
				return fail(st, "(%s) auth_type AH is not supported by vrrpd", in.Name)
			default:
				return fail(st, "(%s) unknown auth_type %s", in.Name, st.Args[0])
			}
		case "auth_pass":
			if err := needArgs(st, 1); err != nil {
				return err
			}
			p := st.Args[0]
			if len(p) > 8 {
				b.warn(st, "Truncating auth_pass to 8 characters")
				p = p[:8]
			}
			in.AuthPass = p
		default:
			b.warn(st, "Unknown keyword '%s'", st.Keyword)
		}
	}
	if in.AuthType == "PASS" && in.AuthPass == "" {
		return fail(s, "(%s) auth_type PASS needs an auth_pass", in.Name)
	}
	return nil
}

func (b *builder) trackScript(e *kaconf.Stmt, scripts map[string]*Script, owner string) (TrackScript, bool, error) {
	sc, ok := scripts[e.Keyword]
	if !ok {
		b.warn(e, "(%s) track script %s not found, ignoring...", owner, e.Keyword)
		return TrackScript{}, false, nil
	}
	ts := TrackScript{Script: sc, Weight: sc.Weight, Reverse: sc.Reverse}
	for i := 0; i < len(e.Args); i++ {
		switch e.Args[i] {
		case "weight":
			if i+1 >= len(e.Args) {
				return ts, false, fail(e, "(%s) track_script %s: weight needs a value", owner, e.Keyword)
			}
			w, err := strconv.Atoi(e.Args[i+1])
			if err != nil || w < -253 || w > 253 {
				return ts, false, fail(e, "(%s) track_script %s: weight %s must be in -253..253", owner, e.Keyword, e.Args[i+1])
			}
			ts.Weight = w
			i++
		case "reverse":
			ts.Reverse = true
		case "noreverse", "no_reverse":
			ts.Reverse = false
		default:
			b.warn(e, "(%s) track_script %s: unknown option %s", owner, e.Keyword, e.Args[i])
		}
	}
	return ts, true, nil
}

func (b *builder) trackInterface(e *kaconf.Stmt) (TrackInterface, error) {
	ti := TrackInterface{Name: e.Keyword}
	for i := 0; i < len(e.Args); i++ {
		switch e.Args[i] {
		case "weight":
			if i+1 >= len(e.Args) {
				return ti, fail(e, "track_interface %s: weight needs a value", e.Keyword)
			}
			w, err := strconv.Atoi(e.Args[i+1])
			if err != nil || w < -253 || w > 253 {
				return ti, fail(e, "track_interface %s: weight %s must be in -253..253", e.Keyword, e.Args[i+1])
			}
			ti.Weight = w
			i++
		case "reverse":
			ti.Reverse = true
		case "noreverse", "no_reverse":
		default:
			b.warn(e, "track_interface %s: unknown option %s", e.Keyword, e.Args[i])
		}
	}
	return ti, nil
}

func (b *builder) unicastPeer(e *kaconf.Stmt) (UnicastPeer, error) {
	a, err := netip.ParseAddr(e.Keyword)
	if err != nil || !a.Is4() {
		return UnicastPeer{}, fail(e, "unicast_peer: invalid IPv4 address '%s'", e.Keyword)
	}
	p := UnicastPeer{Addr: a, MinTTL: -1, MaxTTL: -1}
	for i := 0; i+1 < len(e.Args); i += 2 {
		v, err := strconv.Atoi(e.Args[i+1])
		if err != nil || v < 0 || v > 255 {
			return p, fail(e, "unicast_peer %s: %s %s must be in 0..255", a, e.Args[i], e.Args[i+1])
		}
		switch e.Args[i] {
		case "min_ttl":
			p.MinTTL = v
		case "max_ttl":
			p.MaxTTL = v
		default:
			b.warn(e, "unicast_peer %s: unknown option %s", a, e.Args[i])
		}
	}
	return p, nil
}

func (b *builder) vip(e *kaconf.Stmt, in *Instance) (VIP, error) {
	v := VIP{Dev: in.Interface, Pos: e.Pos()}
	pfx, err := parseVIPAddr(e.Keyword)
	if err != nil {
		return v, fail(e, "(%s) invalid virtual address '%s'", in.Name, e.Keyword)
	}
	v.Prefix = pfx
	next := func(i int) (string, error) {
		if i+1 >= len(e.Args) {
			return "", fail(e, "(%s) virtual address %s: %s needs a value", in.Name, e.Keyword, e.Args[i])
		}
		return e.Args[i+1], nil
	}
	for i := 0; i < len(e.Args); i++ {
		switch kw := e.Args[i]; kw {
		case "dev":
			s, err := next(i)
			if err != nil {
				return v, err
			}
			v.Dev = s
			i++
		case "label":
			s, err := next(i)
			if err != nil {
				return v, err
			}
			v.Label = s
			i++
		case "brd":
			s, err := next(i)
			if err != nil {
				return v, err
			}
			a, perr := netip.ParseAddr(s)
			if perr != nil || !a.Is4() {
				return v, fail(e, "(%s) virtual address %s: invalid brd '%s'", in.Name, e.Keyword, s)
			}
			v.Brd = a
			i++
		case "scope":
			s, err := next(i)
			if err != nil {
				return v, err
			}
			switch s {
			case "site", "link", "host", "nowhere", "global":
			default:
				return v, fail(e, "(%s) virtual address %s: invalid scope '%s'", in.Name, e.Keyword, s)
			}
			v.Scope = s
			i++
		case "no_track":
			v.NoTrack = true
		case "peer", "preferred_lft", "track_group":
			b.limit(e, "(%s) virtual address option %s is not supported by vrrpd - ignoring", in.Name, kw)
			i++
		case "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac":
			b.limit(e, "(%s) virtual address option %s is not supported by vrrpd - ignoring", in.Name, kw)
		default:
			return v, fail(e, "(%s) virtual address %s: unknown option '%s'", in.Name, e.Keyword, kw)
		}
	}
	if v.Label != "" && !strings.HasPrefix(v.Label, v.Dev) {
		b.warn(e, "(%s) label %s should start with the interface name %s", in.Name, v.Label, v.Dev)
	}
	return v, nil
}

// parseVIPAddr accepts A.B.C.D or A.B.C.D/N (default /32).
func parseVIPAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		if !p.Addr().Is4() {
			return p, errors.New("only IPv4 is supported")
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !a.Is4() {
		return netip.Prefix{}, errors.New("only IPv4 is supported")
	}
	return netip.PrefixFrom(a, 32), nil
}
