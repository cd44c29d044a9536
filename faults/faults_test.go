package faults

import (
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFilterTable(t *testing.T) {
	got := FilterTable("halab_vrrp_b", map[string][]string{"input": {"meta l4proto 112 drop"}})
	assert.Equal(t, "table inet halab_vrrp_b\ndelete table inet halab_vrrp_b\ntable inet halab_vrrp_b {\n"+
		"  chain input {\n    type filter hook input priority -10; policy accept;\n    meta l4proto 112 drop\n  }\n}\n", got)
}

func TestActionString(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{Action{Kind: "kill", Node: "n1", Daemon: "vrrpd"}, "kill vrrpd on n1"},
		{Action{Kind: "link_down", Node: "n1", Iface: "eth0"}, "link down n1:eth0"},
		{Action{Kind: "return", Node: "n1"}, "return node n1"},
		{Action{Kind: "block_vrrp", Node: "n1", Peer: "n2"}, "block vrrp between n1 and n2"},
		{Action{Kind: "dance", Node: "n1"}, "dance n1"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.a.String())
	}
}

func TestProcNameAndSignals(t *testing.T) {
	assert.Equal(t, "nginx", ProcName([]string{"nginx: worker process"}))
	assert.Equal(t, "keepalived", ProcName([]string{"/run/halab/x/files/bin/keepalived", "-f", "k.conf"}))
	assert.Equal(t, "", ProcName(nil))
	assert.Equal(t, syscall.SIGKILL, SignalByName("sigkill"))
	assert.Equal(t, syscall.SIGHUP, SignalByName("HUP"))
	assert.Equal(t, syscall.Signal(0), SignalByName("LOVE"))
}

func TestIsVIP(t *testing.T) {
	conf := []netip.Prefix{netip.MustParsePrefix("10.0.1.11/24")}
	assert.False(t, IsVIP("10.0.1.11/24", conf))
	assert.True(t, IsVIP("10.0.1.100/32", conf))
	assert.False(t, IsVIP("fe80::1/64", conf), "link-local is never a VIP")
	assert.False(t, IsVIP("garbage", conf))
}
