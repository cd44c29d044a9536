package vrrpd

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"halab/internal/kaconf"
)

// Defaults of keepalived 2.2 for the settings vrrpd implements.
const (
	DefaultPriority         = 100
	DefaultAdvertInt        = time.Second
	DefaultGARPMasterDelay  = 5 * time.Second
	DefaultGARPMasterRepeat = 5
	DefaultScriptInterval   = time.Second
	DefaultDownTimerAdverts = 3
	PriorityOwner           = 255
)

// DefaultMcastGroup4 is the IANA VRRP multicast group.
var DefaultMcastGroup4 = netip.MustParseAddr("224.0.0.18")

// Config is the part of keepalived.conf that vrrpd runs.
type Config struct {
	Global     Global
	Scripts    []*Script // in file order
	Instances  []*Instance
	SyncGroups []*SyncGroup
}

// Global holds global_defs settings used by the VRRP side.
type Global struct {
	RouterID             string
	Version              int
	McastGroup4          netip.Addr
	GARP                 GARP
	Strict               bool
	CheckUnicastSrc      bool
	SkipCheckAdvAddr     bool
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	DownTimerAdverts     int
	EnableScriptSecurity bool
	ScriptUser           string
}

// GARP holds gratuitous ARP timing, global or per instance.
type GARP struct {
	MasterDelay         time.Duration // second burst after becoming master; 0 = none
	MasterRepeat        int           // ARPs per burst
	LowerPrioDelay      time.Duration // burst after a lower priority advert as master
	LowerPrioRepeat     int
	MasterRefresh       time.Duration // periodic refresh while master; 0 = off
	MasterRefreshRepeat int
	Interval            time.Duration // gap between ARPs of a burst
}

// Script is a vrrp_script block.
type Script struct {
	Name     string
	Pos      string
	Script   string
	Interval time.Duration
	Timeout  time.Duration
	Weight   int
	Reverse  bool
	Rise     int
	Fall     int
	InitFail bool
	User     string
}

// TrackScript is one track_script entry of an instance or sync group.
type TrackScript struct {
	Script *Script
	Weight int // resolved: the entry's weight, or the script's
	// Reverse inverts the direction of the weight.
	Reverse bool
}

// TrackInterface is one track_interface entry.
type TrackInterface struct {
	Name    string
	Weight  int
	Reverse bool
}

// VIP is one virtual_ipaddress entry.
type VIP struct {
	Prefix  netip.Prefix
	Dev     string // resolved: the entry's dev or the instance interface
	Label   string
	Brd     netip.Addr
	Scope   string
	NoTrack bool
	Pos     string
}

// UnicastPeer is one unicast_peer entry.
type UnicastPeer struct {
	Addr   netip.Addr
	MinTTL int // -1 when unset
	MaxTTL int
}

// Instance is a vrrp_instance block with every default resolved.
type Instance struct {
	Name                 string
	Pos                  string
	Interface            string
	WantMaster           bool // state MASTER
	VRID                 int
	Priority             int
	AdvertInt            time.Duration
	Version              int
	AuthType             string // "" or "PASS"
	AuthPass             string // at most 8 bytes
	TrackScripts         []TrackScript
	TrackInterfaces      []TrackInterface
	DontTrackPrimary     bool
	VIPs                 []VIP
	ExcludedVIPs         []VIP
	Preempt              bool
	PreemptDelay         time.Duration
	NotifyMaster         string
	NotifyBackup         string
	NotifyFault          string
	NotifyStop           string
	Notify               string
	SrcIP                netip.Addr // unicast_src_ip / mcast_src_ip
	McastDst             netip.Addr
	UnicastPeers         []UnicastPeer
	UnicastTTL           int
	CheckUnicastSrc      bool
	SkipCheckAdvAddr     bool
	GARP                 GARP
	DownTimerAdverts     int
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	Accept               bool
	Strict               bool
	SyncGroup            string
}

// Unicast reports whether the instance sends adverts to unicast peers.
func (in *Instance) Unicast() bool { return len(in.UnicastPeers) > 0 }

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Name         string
	Pos          string
	Members      []string
	TrackScripts []TrackScript
	NotifyMaster string
	NotifyBackup string
	NotifyFault  string
	Notify       string
}

// Warning is a non-fatal configuration problem, positioned like keepalived's.
type Warning struct {
	Pos string
	Msg string
}

func (w Warning) String() string { return w.Pos + ": " + w.Msg }

// LoadConfig reads a keepalived.conf (following includes) into a Config.
func LoadConfig(path string) (*Config, []Warning, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	tree, err := kaconf.ParseFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ConfigFromTree(tree)
}

// ParseConfig reads keepalived.conf content; includes resolve against file's directory.
func ParseConfig(file string, data []byte) (*Config, []Warning, error) {
	tree, err := kaconf.Parse(file, data)
	if err != nil {
		return nil, nil, err
	}
	return ConfigFromTree(tree)
}

// confErr is a fatal error at a statement.
type confErr struct {
	pos string
	msg string
}

func (e *confErr) Error() string { return e.pos + ": " + e.msg }

// builder collects warnings while converting a tree.
type builder struct {
	warns []Warning
}

func (b *builder) warn(s *kaconf.Stmt, format string, a ...any) {
	b.warns = append(b.warns, Warning{Pos: s.Pos(), Msg: fmt.Sprintf(format, a...)})
}

func fail(s *kaconf.Stmt, format string, a ...any) error {
	return &confErr{pos: s.Pos(), msg: fmt.Sprintf(format, a...)}
}

// ignoredTopLevel are blocks owned by other daemons (lbd) or keepalived
// features vrrpd does not run; virtual_server* is skipped without a word.
var silentTopLevel = map[string]bool{
	"virtual_server": true, "virtual_server_group": true,
}

var unsupportedTopLevel = map[string]bool{
	"static_ipaddress": true, "static_routes": true, "static_rules": true,
	"linkbeat_interfaces": true, "garp_group": true, "vrrp_track_file": true,
	"vrrp_track_process": true, "bfd_instance": true, "net_namespace": true,
	"net_namespace_ipvs": true, "instance": true, "use_pid_dir": true,
	"interface_up_down_delays": true, "track_file": true,
}

// ConfigFromTree converts a parsed keepalived.conf into a Config.
// Warnings are returned even when err is nil; err names FILE:LINE.
func ConfigFromTree(tree []*kaconf.Stmt) (*Config, []Warning, error) {
	b := &builder{}
	cfg := &Config{Global: Global{
		Version:          2,
		McastGroup4:      DefaultMcastGroup4,
		DownTimerAdverts: DefaultDownTimerAdverts,
		GARP: GARP{
			MasterDelay: DefaultGARPMasterDelay, MasterRepeat: DefaultGARPMasterRepeat,
			LowerPrioDelay: -1, LowerPrioRepeat: -1, MasterRefreshRepeat: 1,
		},
	}}
	if h, err := os.Hostname(); err == nil {
		cfg.Global.RouterID = h
	}
	// global_defs first: instances inherit from it wherever it appears.
	for _, s := range tree {
		if s.Keyword == "global_defs" {
			if err := b.global(s, &cfg.Global); err != nil {
				return nil, b.warns, err
			}
		}
	}
	g := &cfg.Global.GARP
	if g.LowerPrioDelay < 0 {
		g.LowerPrioDelay = g.MasterDelay
	}
	if g.LowerPrioRepeat < 0 {
		g.LowerPrioRepeat = g.MasterRepeat
	}
	scripts := map[string]*Script{}
	for _, s := range tree {
		if s.Keyword != "vrrp_script" {
			continue
		}
		sc, err := b.script(s)
		if err != nil {
			return nil, b.warns, err
		}
		if _, dup := scripts[sc.Name]; dup {
			b.warn(s, "vrrp_script %s defined twice - using the later one", sc.Name)
		}
		scripts[sc.Name] = sc
		cfg.Scripts = append(cfg.Scripts, sc)
	}
	instByName := map[string]*Instance{}
	for _, s := range tree {
		switch s.Keyword {
		case "global_defs", "vrrp_script":
		case "vrrp_instance":
			in, err := b.instance(s, cfg, scripts)
			if err != nil {
				return nil, b.warns, err
			}
			if _, dup := instByName[in.Name]; dup {
				return nil, b.warns, fail(s, "vrrp_instance %s defined twice", in.Name)
			}
			instByName[in.Name] = in
			cfg.Instances = append(cfg.Instances, in)
		case "vrrp_sync_group":
			sg, err := b.syncGroup(s, scripts)
			if err != nil {
				return nil, b.warns, err
			}
			cfg.SyncGroups = append(cfg.SyncGroups, sg)
		default:
			switch {
			case silentTopLevel[s.Keyword]:
			case unsupportedTopLevel[s.Keyword]:
				b.warn(s, "%s is not supported by vrrpd - ignoring", s.Keyword)
			default:
				b.warn(s, "Unknown keyword '%s'", s.Keyword)
			}
		}
	}
	for _, sg := range cfg.SyncGroups {
		for _, m := range sg.Members {
			in, ok := instByName[m]
			if !ok {
				b.warns = append(b.warns, Warning{Pos: sg.Pos, Msg: fmt.Sprintf("vrrp_sync_group %s: instance %s does not exist - ignoring", sg.Name, m)})
				continue
			}
			in.SyncGroup = sg.Name
			// keepalived zeroes tracking weights of grouped instances.
			for i := range in.TrackScripts {
				if in.TrackScripts[i].Weight != 0 {
					b.warns = append(b.warns, Warning{Pos: in.Pos, Msg: fmt.Sprintf("(%s) track_script %s weight set to 0 because the instance is in sync group %s", in.Name, in.TrackScripts[i].Script.Name, sg.Name)})
					in.TrackScripts[i].Weight = 0
				}
			}
		}
	}
	if err := checkVRIDs(cfg.Instances); err != nil {
		return nil, b.warns, err
	}
	return cfg, b.warns, nil
}

func checkVRIDs(ins []*Instance) error {
	type key struct {
		ifname  string
		vrid    int
		unicast bool
	}
	seen := map[key]*Instance{}
	for _, in := range ins {
		k := key{in.Interface, in.VRID, in.Unicast()}
		if o, ok := seen[k]; ok && !in.Unicast() {
			return &confErr{pos: in.Pos, msg: fmt.Sprintf("(%s) VRID %d is already used by %s on interface %s", in.Name, in.VRID, o.Name, in.Interface)}
		}
		seen[k] = in
	}
	return nil
}

// knownGlobal are global_defs keywords keepalived knows and vrrpd ignores.
var knownGlobal = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`bfd_cpu_affinity bfd_no_swap bfd_priority bfd_process_name
	bfd_rlimit_rttime bfd_rt_priority checker_cpu_affinity checker_log_all_failures checker_no_swap
	checker_priority checker_process_name checker_rlimit_rttime checker_rt_priority config_save_dir
	data_use_instance dbus_service_name default_interface disable_local_igmp dynamic_interfaces
	enable_dbus enable_snmp_checker enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3
	enable_snmp_vrrp enable_traps fifo_write_vrrp_states_on_reload include_check init_file
	log_unknown_vrids lvs_flush lvs_flush_on_stop lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force
	lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force lvs_notify_fifo lvs_notify_fifo_script
	lvs_sync_daemon lvs_timeouts max_auto_priority min_auto_priority_delay nftables nftables_counters
	nftables_ifindex nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_priority
	no_checker_emails no_email_faults notification_email notification_email_from notify_fifo
	notify_fifo_script process_monitor_rcv_bufs process_monitor_rcv_bufs_force process_name
	process_names random_seed reload_check_config reload_file reload_repeat reload_time_file
	rs_init_notifies shutdown_script shutdown_script_timeout smtp_alert smtp_alert_checker
	smtp_alert_vrrp smtp_connect_timeout smtp_helo_name smtp_server snmp_socket startup_script
	startup_script_timeout tmp_config_directory umask vmac_addr_prefix vmac_prefix vrrp_cpu_affinity
	vrrp_garp_extra_if vrrp_gna_interval vrrp_ipsets vrrp_iptables vrrp_mcast_group6
	vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs
	vrrp_netlink_monitor_rcv_bufs_force vrrp_no_swap vrrp_notify_fifo vrrp_notify_fifo_script
	vrrp_notify_priority_changes vrrp_priority vrrp_process_name vrrp_rlimit_rttime vrrp_rt_priority
	vrrp_rx_bufs_multiplier vrrp_rx_bufs_policy vrrp_startup_delay lvs_id vrrp_garp_lower_prio_no_advert
	static_ipaddress static_routes static_rules linkbeat_interfaces track_group`) {
		knownGlobal[k] = true
	}
}

func (b *builder) global(s *kaconf.Stmt, g *Global) error {
	for _, st := range s.Block {
		var err error
		switch st.Keyword {
		case "router_id":
			if err = needArgs(st, 1); err == nil {
				g.RouterID = st.Args[0]
			}
		case "vrrp_version":
			var v int
			if v, err = intArg(st, 2, 3); err == nil {
				g.Version = v
			}
		case "vrrp_mcast_group4":
			var a netip.Addr
			if a, err = addrArg(st); err == nil {
				if !a.Is4() || !a.IsMulticast() {
					err = fail(st, "vrrp_mcast_group4 %s is not an IPv4 multicast address", a)
				}
				g.McastGroup4 = a
			}
		case "vrrp_garp_master_delay":
			g.GARP.MasterDelay, err = secondsArg(st, 0, 255)
		case "vrrp_garp_master_repeat":
			g.GARP.MasterRepeat, err = intArg(st, 1, 255)
		case "vrrp_garp_lower_prio_delay":
			g.GARP.LowerPrioDelay, err = secondsArg(st, 0, 255)
		case "vrrp_garp_lower_prio_repeat":
			g.GARP.LowerPrioRepeat, err = intArg(st, 1, 255)
		case "vrrp_garp_master_refresh":
			g.GARP.MasterRefresh, err = secondsArg(st, 0, 86400)
		case "vrrp_garp_master_refresh_repeat":
			g.GARP.MasterRefreshRepeat, err = intArg(st, 1, 255)
		case "vrrp_garp_interval":
			g.GARP.Interval, err = secondsArg(st, 0, 1)
		case "vrrp_min_garp":
			var on bool
			if on, err = boolArg(st); err == nil && on {
				g.GARP.MasterRepeat = 1
				g.GARP.MasterDelay = 0
			}
		case "vrrp_strict":
			g.Strict = true
		case "vrrp_check_unicast_src":
			g.CheckUnicastSrc = true
		case "vrrp_skip_check_adv_addr":
			g.SkipCheckAdvAddr = true
		case "vrrp_lower_prio_no_advert":
			g.LowerPrioNoAdvert, err = boolArg(st)
		case "vrrp_higher_prio_send_advert":
			g.HigherPrioSendAdvert, err = boolArg(st)
		case "vrrp_down_timer_adverts":
			g.DownTimerAdverts, err = intArg(st, 1, 100)
		case "enable_script_security":
			g.EnableScriptSecurity = true
		case "script_user":
			if err = needArgs(st, 1); err == nil {
				g.ScriptUser = st.Args[0]
			}
		default:
			if !knownGlobal[st.Keyword] {
				b.warn(st, "Unknown keyword '%s'", st.Keyword)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) script(s *kaconf.Stmt) (*Script, error) {
	if len(s.Args) < 1 {
		return nil, fail(s, "vrrp_script needs a name")
	}
	sc := &Script{Name: s.Args[0], Pos: s.Pos(), Interval: DefaultScriptInterval, Rise: 1, Fall: 1}
	for _, st := range s.Block {
		var err error
		switch st.Keyword {
		case "script":
			if err = needArgs(st, 1); err == nil {
				sc.Script = strings.Join(st.Args, " ")
			}
		case "interval":
			sc.Interval, err = secondsArg(st, 0.000001, 86400)
		case "timeout":
			sc.Timeout, err = secondsArg(st, 0.000001, 86400)
		case "weight":
			if sc.Weight, err = intArg(st, -253, 253); err == nil && len(st.Args) > 1 {
				switch st.Args[1] {
				case "reverse":
					sc.Reverse = true
				case "noreverse", "no_reverse":
				default:
					b.warn(st, "(%s) unknown weight option %s", sc.Name, st.Args[1])
				}
			}
		case "rise":
			sc.Rise, err = intArg(st, 1, 1<<30)
		case "fall":
			sc.Fall, err = intArg(st, 1, 1<<30)
		case "init_fail":
			sc.InitFail = true
		case "user":
			if err = needArgs(st, 1); err == nil {
				sc.User = st.Args[0]
			}
		default:
			b.warn(st, "Unknown keyword '%s'", st.Keyword)
		}
		if err != nil {
			return nil, err
		}
	}
	if sc.Script == "" {
		return nil, fail(s, "vrrp_script %s has no script", sc.Name)
	}
	if sc.Timeout == 0 {
		sc.Timeout = sc.Interval
	}
	return sc, nil
}

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
				// keepalived compares case-sensitively and falls back to BACKUP.
				switch st.Args[0] {
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
			b.warn(st, "(%s) %s is not supported by vrrpd - ignoring", in.Name, st.Keyword)
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
			b.warn(e, "(%s) virtual address option %s is not supported by vrrpd - ignoring", in.Name, kw)
			i++
		case "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac":
			b.warn(e, "(%s) virtual address option %s is not supported by vrrpd - ignoring", in.Name, kw)
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

func (b *builder) syncGroup(s *kaconf.Stmt, scripts map[string]*Script) (*SyncGroup, error) {
	if len(s.Args) < 1 {
		return nil, fail(s, "vrrp_sync_group needs a name")
	}
	sg := &SyncGroup{Name: s.Args[0], Pos: s.Pos()}
	for _, st := range s.Block {
		var err error
		switch st.Keyword {
		case "group":
			for _, e := range st.Block {
				sg.Members = append(sg.Members, e.Keyword)
				sg.Members = append(sg.Members, e.Args...)
			}
		case "track_script":
			for _, e := range st.Block {
				ts, ok, terr := b.trackScript(e, scripts, sg.Name)
				if terr != nil {
					return nil, terr
				}
				if ok {
					sg.TrackScripts = append(sg.TrackScripts, ts)
				}
			}
		case "notify_master":
			sg.NotifyMaster, err = scriptArg(st)
		case "notify_backup":
			sg.NotifyBackup, err = scriptArg(st)
		case "notify_fault":
			sg.NotifyFault, err = scriptArg(st)
		case "notify":
			sg.Notify, err = scriptArg(st)
		case "smtp_alert", "global_tracking", "sync_group_tracking_weight", "notify_stop",
			"notify_priority_changes", "notify_deleted":
		case "track_interface", "track_file", "track_process", "track_bfd":
			b.warn(st, "(%s) %s in a sync group is not supported by vrrpd - ignoring", sg.Name, st.Keyword)
		default:
			b.warn(st, "Unknown keyword '%s'", st.Keyword)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(sg.Members) == 0 {
		b.warn(s, "vrrp_sync_group %s has no members", sg.Name)
	}
	return sg, nil
}

// Argument helpers.

func needArgs(s *kaconf.Stmt, n int) error {
	if len(s.Args) < n {
		return fail(s, "%s needs %d argument(s)", s.Keyword, n)
	}
	return nil
}

func intArg(s *kaconf.Stmt, lo, hi int) (int, error) {
	if err := needArgs(s, 1); err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s.Args[0])
	if err != nil || v < lo || v > hi {
		return 0, fail(s, "%s '%s' must be an integer in %d..%d", s.Keyword, s.Args[0], lo, hi)
	}
	return v, nil
}

func secondsArg(s *kaconf.Stmt, lo, hi float64) (time.Duration, error) {
	if err := needArgs(s, 1); err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s.Args[0], 64)
	if err != nil || v < lo || v > hi || v != v {
		return 0, fail(s, "%s '%s' must be seconds in %g..%g", s.Keyword, s.Args[0], lo, hi)
	}
	return time.Duration(v*1e6+0.5) * time.Microsecond, nil
}

func boolArg(s *kaconf.Stmt) (bool, error) {
	if len(s.Args) == 0 {
		return true, nil
	}
	switch strings.ToLower(s.Args[0]) {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fail(s, "%s '%s' is not a boolean (on|off|true|false|yes|no)", s.Keyword, s.Args[0])
}

func addrArg(s *kaconf.Stmt) (netip.Addr, error) {
	if err := needArgs(s, 1); err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(s.Args[0])
	if err != nil {
		return a, fail(s, "%s: invalid address '%s'", s.Keyword, s.Args[0])
	}
	return a, nil
}

// scriptArg returns a notify script; user/group arguments are ignored.
func scriptArg(s *kaconf.Stmt) (string, error) {
	if err := needArgs(s, 1); err != nil {
		return "", err
	}
	return s.Args[0], nil
}

func durPtr(d time.Duration, err error) (*time.Duration, error) { return &d, err }
func intPtr(v int, err error) (*int, error)                     { return &v, err }
