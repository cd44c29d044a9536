package vrrpd

import (
	"fmt"
	"net/netip"
	"os"
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
	// Limitation marks a setting keepalived accepts but vrrpd ignores: it
	// is reported but does not make the configuration invalid.
	Limitation bool
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

// limit records a vrrpd limitation (not a configuration error).
func (b *builder) limit(s *kaconf.Stmt, format string, a ...any) {
	b.warns = append(b.warns, Warning{Pos: s.Pos(), Msg: fmt.Sprintf(format, a...), Limitation: true})
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
				b.limit(s, "%s is not supported by vrrpd - ignoring", s.Keyword)
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
			b.limit(st, "(%s) %s in a sync group is not supported by vrrpd - ignoring", sg.Name, st.Keyword)
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
