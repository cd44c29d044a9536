package vrrpd

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// articleMaster is the article's nginx01 keepalived.conf, completed.
const articleMaster = `vrrp_script chk_http_port {
script "/usr/bin/killall -0 nginx"
interval 2
weight 10
}
vrrp_instance lb_nginx {
interface enp0s3
state MASTER
virtual_router_id 111
priority 85
authentication {
auth_type PASS
auth_pass Security
}
track_script {
chk_http_port
}
virtual_ipaddress {
192.168.1.10/24 dev enp0s3 label enp0s3:vip
}
}
virtual_server 192.168.1.10 80 {
  delay_loop 6
  lb_algo rr
  real_server 10.0.0.1 80 {
    connect_timeout 10
  }
}
`

func TestConfigArticle(t *testing.T) {
	cfg, warns, err := ParseConfig("keepalived.conf", []byte(articleMaster))
	require.NoError(t, err)
	assert.Empty(t, warns)
	require.Len(t, cfg.Instances, 1)
	in := cfg.Instances[0]
	assert.Equal(t, "lb_nginx", in.Name)
	assert.True(t, in.WantMaster)
	assert.Equal(t, 111, in.VRID)
	assert.Equal(t, 85, in.Priority)
	assert.Equal(t, time.Second, in.AdvertInt)
	assert.Equal(t, 2, in.Version)
	assert.Equal(t, "PASS", in.AuthType)
	assert.Equal(t, "Security", in.AuthPass)
	assert.True(t, in.Preempt)
	require.Len(t, in.TrackScripts, 1)
	assert.Equal(t, 10, in.TrackScripts[0].Weight)
	sc := in.TrackScripts[0].Script
	assert.Equal(t, "/usr/bin/killall -0 nginx", sc.Script)
	assert.Equal(t, 2*time.Second, sc.Interval)
	assert.Equal(t, 2*time.Second, sc.Timeout)
	assert.Equal(t, 1, sc.Rise)
	assert.Equal(t, 1, sc.Fall)
	require.Len(t, in.VIPs, 1)
	assert.Equal(t, "192.168.1.10/24", in.VIPs[0].Prefix.String())
	assert.Equal(t, "enp0s3", in.VIPs[0].Dev)
	assert.Equal(t, "enp0s3:vip", in.VIPs[0].Label)
	assert.Equal(t, GARP{MasterDelay: 5 * time.Second, MasterRepeat: 5, LowerPrioDelay: 5 * time.Second,
		LowerPrioRepeat: 5, MasterRefreshRepeat: 1}, in.GARP)
	assert.Equal(t, "224.0.0.18", in.McastDst.String())
	assert.False(t, in.Unicast())

	// Effective priorities of the article: 85+10 with nginx up, 85 without.
	tr := []Tracked{{Name: "chk_http_port", Weight: 10, Status: StatusOK}}
	assert.Equal(t, 95, EffectivePriority(in.Priority, tr))
	tr[0].Status = StatusFailed
	assert.Equal(t, 85, EffectivePriority(in.Priority, tr))
	backup := strings.Replace(strings.Replace(articleMaster, "priority 85", "priority 80", 1), "state MASTER", "state BACKUP", 1)
	cfg, _, err = ParseConfig("b.conf", []byte(backup))
	require.NoError(t, err)
	tr[0].Status = StatusOK
	assert.Equal(t, 90, EffectivePriority(cfg.Instances[0].Priority, tr))
}

func TestConfigWarnings(t *testing.T) {
	conf := `global_defs {
  router_id lb1
  notification_email { a@b }
  bogus 1
}
vrrp_instance V {
  interface eth0
  state Master
  virtual_router_id 1
  frobnicate
  authentication {
    auth_type PASS
    auth_pass Security12345
  }
  virtual_ipaddress { 10.0.0.1 }
}
static_routes {
}
mystery {
}
`
	cfg, warns, err := ParseConfig("k.conf", []byte(conf))
	require.NoError(t, err)
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.String())
	}
	assert.Equal(t, []string{
		"k.conf:4: Unknown keyword 'bogus'",
		"k.conf:8: (V) state 'Master' read as MASTER (keepalived 2.2 reads only upper case and would start as BACKUP)",
		"k.conf:10: Unknown keyword 'frobnicate'",
		"k.conf:13: Truncating auth_pass to 8 characters",
		"k.conf:17: static_routes is not supported by vrrpd - ignoring",
		"k.conf:19: Unknown keyword 'mystery'",
	}, ws)
	in := cfg.Instances[0]
	assert.True(t, in.WantMaster, "state Master is read as MASTER")
	assert.Equal(t, "Security", in.AuthPass)
	assert.Equal(t, "10.0.0.1/32", in.VIPs[0].Prefix.String())
	assert.Equal(t, "lb1", cfg.Global.RouterID)
}

func TestConfigErrors(t *testing.T) {
	base := "vrrp_instance V {\n interface eth0\n%s\n}\n"
	tests := []struct {
		name, body, want string
	}{
		{"no vrid", "priority 100", "k.conf:1: (V) the virtual router id must be set"},
		{"vrid 0", "virtual_router_id 0", "k.conf:3: (V) virtual_router_id '0' is not in the range 1..255"},
		{"vrid 256", "virtual_router_id 256", "k.conf:3: (V) virtual_router_id '256'"},
		{"vrid text", "virtual_router_id x", "k.conf:3: (V) virtual_router_id 'x'"},
		{"bad vip", "virtual_router_id 1\nvirtual_ipaddress {\n10.0.0.300/24\n}", "k.conf:5: (V) invalid virtual address '10.0.0.300/24'"},
		{"bad vip opt", "virtual_router_id 1\nvirtual_ipaddress {\n10.0.0.3/24 dve eth0\n}", "k.conf:5: (V) virtual address 10.0.0.3/24: unknown option 'dve'"},
		{"bad peer", "virtual_router_id 1\nunicast_peer {\n10.0.0.x\n}", "k.conf:5: unicast_peer: invalid IPv4 address '10.0.0.x'"},
		{"bad src", "virtual_router_id 1\nunicast_src_ip 1.2.3", "k.conf:4: unicast_src_ip: invalid address '1.2.3'"},
		{"bad advert", "virtual_router_id 1\nadvert_int 0", "k.conf:4: advert_int '0' must be seconds"},
		{"bad version", "virtual_router_id 1\nversion 4", "k.conf:4: version '4' must be an integer in 2..3"},
		{"auth AH", "virtual_router_id 1\nauthentication {\nauth_type AH\n}", "k.conf:5: (V) auth_type AH is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseConfig("k.conf", []byte(strings.Replace(base, "%s", tt.body, 1)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, _, err := ParseConfig("k.conf", []byte("vrrp_instance V {\n virtual_router_id 1\n}\n"))
	require.ErrorContains(t, err, "k.conf:1: (V) no interface specified")
	_, _, err = ParseConfig("k.conf", []byte("vrrp_instance A {\n interface e\n virtual_router_id 1\n}\nvrrp_instance B {\n interface e\n virtual_router_id 1\n}\n"))
	require.ErrorContains(t, err, "k.conf:5: (B) VRID 1 is already used by A")
	_, _, err = ParseConfig("k.conf", []byte("vrrp_script s {\n interval 1\n}\n"))
	require.ErrorContains(t, err, "k.conf:1: vrrp_script s has no script")
}

func TestConfigGARPAndDefaults(t *testing.T) {
	conf := `global_defs {
  vrrp_version 3
  vrrp_garp_master_delay 2
  vrrp_garp_master_repeat 3
  vrrp_garp_master_refresh 60
  vrrp_garp_interval 0.001
}
vrrp_script s {
  script "exit 0"
  weight -20 reverse
  rise 3
  fall 2
  timeout 5
}
vrrp_instance A {
  interface eth0
  virtual_router_id 7
  advert_int 0.05
  garp_master_repeat 1
  nopreempt
  preempt_delay 2.5
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
    10.0.0.3 min_ttl 10 max_ttl 255
  }
  track_script {
    s weight 5
  }
  track_interface {
    eth1
    eth2 weight -10
  }
  notify_master "/bin/echo master"
  notify /etc/keepalived/notify.sh
}
vrrp_instance B {
  interface eth0
  virtual_router_id 8
  version 2
  advert_int 1.4
}
vrrp_sync_group G {
  group {
    B
  }
}
`
	cfg, warns, err := ParseConfig("k.conf", []byte(conf))
	require.NoError(t, err)
	a, b := cfg.Instances[0], cfg.Instances[1]
	assert.Equal(t, 3, a.Version)
	assert.Equal(t, 50*time.Millisecond, a.AdvertInt)
	assert.Equal(t, GARP{MasterDelay: 2 * time.Second, MasterRepeat: 1, LowerPrioDelay: 2 * time.Second,
		LowerPrioRepeat: 1, MasterRefresh: 60 * time.Second, MasterRefreshRepeat: 1, Interval: time.Millisecond}, a.GARP)
	assert.False(t, a.Preempt)
	assert.Equal(t, 2500*time.Millisecond, a.PreemptDelay)
	assert.True(t, a.Unicast())
	assert.Equal(t, "10.0.0.1", a.SrcIP.String())
	assert.Equal(t, []UnicastPeer{{Addr: mustAddr("10.0.0.2"), MinTTL: -1, MaxTTL: -1}, {Addr: mustAddr("10.0.0.3"), MinTTL: 10, MaxTTL: 255}}, a.UnicastPeers)
	require.Len(t, a.TrackScripts, 1)
	assert.Equal(t, 5, a.TrackScripts[0].Weight)
	assert.True(t, a.TrackScripts[0].Reverse)
	assert.Equal(t, 3, a.TrackScripts[0].Script.Rise)
	assert.Equal(t, 5*time.Second, a.TrackScripts[0].Script.Timeout)
	assert.Equal(t, []TrackInterface{{Name: "eth1"}, {Name: "eth2", Weight: -10}}, a.TrackInterfaces)
	assert.Equal(t, "/bin/echo master", a.NotifyMaster)
	assert.Equal(t, "/etc/keepalived/notify.sh", a.Notify)
	assert.Equal(t, 2, b.Version)
	assert.Equal(t, time.Second, b.AdvertInt)
	assert.Equal(t, "G", b.SyncGroup)
	require.Len(t, warns, 3)
	assert.Equal(t, "k.conf:15: (A) No VIP specified; at least one is sensible", warns[0].String())
	assert.Contains(t, warns[2].String(), "k.conf:41: (B) VRRPv2 advert_int must be whole seconds")
}

func TestEffectivePriority(t *testing.T) {
	tests := []struct {
		name string
		base int
		tr   []Tracked
		want int
	}{
		{"none", 100, nil, 100},
		{"pos ok", 85, []Tracked{{Weight: 10, Status: StatusOK}}, 95},
		{"pos failed", 85, []Tracked{{Weight: 10, Status: StatusFailed}}, 85},
		{"pos init", 85, []Tracked{{Weight: 10, Status: StatusInit}}, 85},
		{"neg ok", 85, []Tracked{{Weight: -10, Status: StatusOK}}, 85},
		{"neg failed", 85, []Tracked{{Weight: -10, Status: StatusFailed}}, 75},
		{"reverse pos failed", 85, []Tracked{{Weight: 10, Reverse: true, Status: StatusFailed}}, 95},
		{"clamp high", 250, []Tracked{{Weight: 10, Status: StatusOK}}, 254},
		{"clamp low", 5, []Tracked{{Weight: -10, Status: StatusFailed}}, 1},
		{"owner", 255, []Tracked{{Weight: -10, Status: StatusFailed}}, 255},
		{"sum", 100, []Tracked{{Weight: 10, Status: StatusOK}, {Weight: -30, Status: StatusFailed}, {Weight: 0, Status: StatusFailed}}, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, EffectivePriority(tt.base, tt.tr))
		})
	}
	f, n, w := TrackFault([]Tracked{{Name: "a", Weight: 5, Status: StatusFailed}, {Name: "b", Status: StatusFailed}})
	assert.True(t, f)
	assert.Equal(t, "b", n)
	assert.False(t, w)
	f, _, w = TrackFault([]Tracked{{Name: "a", Status: StatusInit}})
	assert.False(t, f)
	assert.True(t, w)
}

func TestScriptCounter(t *testing.T) {
	// rise 2, fall 3: keepalived's "one success is enough" at start.
	c := newScriptCounter(2, 3, false)
	assert.Equal(t, StatusInit, c.status)
	assert.True(t, c.record(true))
	assert.Equal(t, StatusOK, c.status)
	assert.False(t, c.record(false))
	assert.False(t, c.record(false))
	assert.True(t, c.record(false)) // third failure
	assert.Equal(t, StatusFailed, c.status)
	assert.False(t, c.record(true))
	assert.True(t, c.record(true)) // second success
	assert.Equal(t, StatusOK, c.status)

	c = newScriptCounter(1, 1, false)
	assert.True(t, c.record(false)) // first run failing is decisive
	assert.Equal(t, StatusFailed, c.status)

	c = newScriptCounter(3, 1, true)
	assert.Equal(t, StatusFailed, c.status)
	assert.False(t, c.record(true))
	assert.False(t, c.record(true))
	assert.True(t, c.record(true))
}
