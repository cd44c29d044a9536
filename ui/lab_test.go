package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"halab/lab"
)

// upSimple brings up the simple topology under another name, without its
// run entries.
func upSimple(t *testing.T, ctx context.Context, name string) *lab.Lab {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	data = []byte(strings.Replace(string(data), "name: simple", "name: "+name, 1))
	topo, err := lab.ParseTopology(name+".yaml", data)
	require.NoError(t, err)
	_ = lab.Down(ctx, name) // a leftover of a killed run
	l, err := lab.Up(ctx, topo, lab.WithoutRun())
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	return l
}

func postJSON(t *testing.T, s *Server, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", baseURL(s)+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestLabStateEventsProbeAndFaults(t *testing.T) {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := upSimple(t, ctx, "ui1")
	_, err := l.MustNode("app01").Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(binDir, "labapp"), "-listen", ":80"}})
	require.NoError(t, err)

	s, err := Serve(ctx, l, Options{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
	require.Contains(t, s.URL(), "#token="+s.Token())

	// The state API: nodes, roles, addresses, daemons.
	require.Eventually(t, func() bool {
		n := getState(t, s).Node("app01")
		return n != nil && len(n.Daemons) == 1
	}, 5*time.Second, 50*time.Millisecond)
	st := getState(t, s)
	assert.Equal(t, "ui1", st.Lab)
	require.Len(t, st.Nodes, 5)
	app := st.Node("app01")
	assert.Equal(t, "app", app.Role)
	assert.Equal(t, []string{"10.0.2.21/24"}, app.Interfaces[0].Addresses)
	assert.Equal(t, "labapp", app.Daemons[0].Name)
	assert.Equal(t, "app", app.Daemons[0].Kind)
	assert.Equal(t, "running", app.Daemons[0].State)

	// The event stream sees a VIP appear on nginx02 within 200 ms.
	r := openSSE(t, ctx, baseURL(s)+"/api/events")
	r.waitState(t, func(*State) bool { return true })
	h, err := l.MustNode("nginx02").Handle()
	require.NoError(t, err)
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	require.NoError(t, err)
	vip := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("10.0.1.100").To4(), Mask: net.CIDRMask(32, 32)}}
	start := time.Now()
	require.NoError(t, h.AddrAdd(eth0, vip))
	got, at := r.waitState(t, func(st *State) bool { return len(st.VIPs["10.0.1.100"]) > 0 })
	t.Logf("VIP on nginx02 pushed after %s", at.Sub(start).Round(time.Millisecond))
	assert.Less(t, at.Sub(start), 200*time.Millisecond)
	assert.Equal(t, []string{"nginx02"}, got.VIPs["10.0.1.100"])
	assert.Equal(t, []string{"10.0.1.100"}, got.Node("nginx02").VIPs)
	start = time.Now()
	require.NoError(t, h.AddrDel(eth0, vip))
	_, at = r.waitState(t, func(st *State) bool { return len(st.VIPs) == 0 })
	assert.Less(t, at.Sub(start), 200*time.Millisecond)

	// The probe from nginx01 reaches app01, and the ticker shows its
	// packets on app01.
	t.Logf("%s probe", time.Now().Format("15:04:05.000"))
	pk := openSSE(t, ctx, baseURL(s)+"/api/packets?node=app01&filter=tcp+port+80")
	require.Equal(t, http.StatusOK, postJSON(t, s, "/api/probe", `{"op":"start","node":"nginx01","url":"http://10.0.2.21/","rate":"20"}`).StatusCode)
	for {
		m, err := r.next()
		require.NoError(t, err)
		if m.event != "probe" {
			continue
		}
		var pr ProbeResult
		require.NoError(t, json.Unmarshal([]byte(m.data), &pr))
		require.True(t, pr.OK, "probe failed: %+v", pr)
		assert.Equal(t, "app01", pr.App)
		break
	}
	for {
		m, err := pk.next()
		require.NoError(t, err)
		if m.event != "packets" {
			continue
		}
		var lines []PacketLine
		require.NoError(t, json.Unmarshal([]byte(m.data), &lines))
		require.NotEmpty(t, lines)
		assert.Equal(t, "app01", lines[0].Node)
		assert.Equal(t, "tcp", lines[0].Proto)
		assert.Contains(t, lines[0].Text, "10.0.2.21.80")
		break
	}
	require.Equal(t, http.StatusOK, postJSON(t, s, "/api/probe", `{"op":"stop"}`).StatusCode)

	// Faults through the lab: link down and up, stop and continue, kill
	// and restart.
	steps := []struct {
		action string
		check  func(*State) bool
	}{
		{`{"action":"link_down","node":"app02","iface":"eth0"}`, func(st *State) bool { return !st.Node("app02").Interfaces[0].Up }},
		{`{"action":"link_up","node":"app02","iface":"eth0"}`, func(st *State) bool { return st.Node("app02").Interfaces[0].Up }},
		{`{"action":"stop","node":"app01","daemon":"labapp"}`, func(st *State) bool {
			d := st.Node("app01").Daemons
			return len(d) == 1 && d[0].State == "stopped"
		}},
		{`{"action":"cont","node":"app01","daemon":"labapp"}`, func(st *State) bool {
			d := st.Node("app01").Daemons
			return len(d) == 1 && d[0].State == "running"
		}},
		{`{"action":"restart","node":"app01","daemon":"labapp"}`, func(st *State) bool {
			d := st.Node("app01").Daemons
			return len(d) == 1 && d[0].PID != app.Daemons[0].PID
		}},
		{`{"action":"crash","node":"app01"}`, func(st *State) bool {
			n := st.Node("app01")
			return len(n.Daemons) == 0 && !n.Interfaces[0].Up
		}},
		{`{"action":"return","node":"app01"}`, func(st *State) bool {
			n := st.Node("app01")
			return len(n.Daemons) == 1 && n.Interfaces[0].Up
		}},
		{`{"action":"block_vrrp","node":"nginx01","peer":"nginx02"}`, nil},
		{`{"action":"unblock_vrrp","node":"nginx01","peer":"nginx02"}`, nil},
	}
	for _, step := range steps {
		t.Logf("%s action %s", time.Now().Format("15:04:05.000"), step.action)
		resp := postJSON(t, s, "/api/action", step.action)
		require.Equal(t, http.StatusOK, resp.StatusCode, step.action)
		if step.check != nil {
			r.waitState(t, step.check)
		}
		if strings.Contains(step.action, `"block_vrrp"`) {
			out, err := l.MustNode("nginx01").Run(ctx, "nft", "list", "ruleset")
			require.NoError(t, err)
			mac := l.MustNode("nginx02").Spec().Interfaces[0].Name
			ifs, err := l.MustNode("nginx02").Interfaces()
			require.NoError(t, err)
			for _, i := range ifs {
				if i.Name == mac {
					mac = i.MAC
				}
			}
			assert.Contains(t, out, "table inet halab_vrrp_nginx02")
			assert.Contains(t, out, mac)
			assert.Regexp(t, `meta l4proto (vrrp|112) drop`, out)
		}
		if strings.Contains(step.action, "unblock_vrrp") {
			out, err := l.MustNode("nginx01").Run(ctx, "nft", "list", "ruleset")
			require.NoError(t, err)
			assert.NotContains(t, out, "vrrp")
		}
	}
	// Every action is on the timeline.
	var faults int
	for _, e := range s.Timeline().Events {
		if e.Kind == "fault" {
			faults++
		}
	}
	assert.Equal(t, len(steps), faults)
}

// TestLabKeepalivedInferred runs Debian's keepalived (which writes no
// status file) and checks that its state is inferred from the VIP.
func TestLabKeepalivedInferred(t *testing.T) {
	requireLab(t)
	const keepalived = "/usr/sbin/keepalived"
	if _, err := os.Stat(keepalived); err != nil {
		t.Skip("keepalived is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	l := upSimple(t, ctx, "ui3")
	conf := filepath.Join(l.SharedDir(), "keepalived.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, keepalivedConf, "nginx01", "MASTER", 101), 0o644))
	_, err := l.MustNode("nginx01").Start(ctx, lab.ProcSpec{Name: "keepalived", Args: []string{keepalived, "-n", "-l", "-D", "-f", conf, "--vrrp",
		"-p", "/run/keepalived.pid", "-r", "/run/keepalived_vrrp.pid", "-c", "/run/keepalived_checkers.pid"}})
	require.NoError(t, err)
	s, err := Serve(ctx, l, Options{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n := s.State().Node("nginx01")
		return len(n.Daemons) == 1 && len(n.Daemons[0].VRRP) == 1 && n.Daemons[0].VRRP[0].State == "MASTER"
	}, 15*time.Second, 50*time.Millisecond, "keepalived never shown as master: %+v", s.State().Node("nginx01"))
	d := s.State().Node("nginx01").Daemons[0]
	assert.Equal(t, "keepalived", d.Name, "keepalived's children are folded into it")
	in := d.VRRP[0]
	assert.True(t, in.Inferred)
	assert.Equal(t, "VI_1", in.Name)
	assert.Equal(t, 51, in.VRID)
	assert.Equal(t, 101, in.Priority)
	assert.Equal(t, []string{"10.0.1.100"}, in.VIPs)
}

// balancerConf enables the statistics page the UI reads backend health from.
const balancerConf = `global
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend web
  bind :80
  stats enable
  stats uri /haproxy?stats
  default_backend apps
backend apps
  balance roundrobin
  server app01 10.0.2.21:80 check inter 300 fall 2 rise 1
  server app02 10.0.2.22:80 check inter 300 fall 2 rise 1
`

// TestLabBalancerBackends shows each server's health as lbd and Debian's
// haproxy see it, from their statistics page.
func TestLabBalancerBackends(t *testing.T) {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	l := upSimple(t, ctx, "ui4")
	_, err := l.MustNode("app01").Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(binDir, "labapp"), "-listen", ":80"}})
	require.NoError(t, err)
	conf := filepath.Join(l.SharedDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(conf, []byte(balancerConf), 0o644))
	impls := map[string]string{"nginx01": filepath.Join(binDir, "lbd")}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		impls["nginx02"] = "/usr/sbin/haproxy"
	}
	for node, bin := range impls {
		_, err := l.MustNode(node).Start(ctx, lab.ProcSpec{Name: filepath.Base(bin), Args: []string{bin, "-db", "-f", conf}})
		require.NoError(t, err)
	}
	s, err := Serve(ctx, l, Options{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	for node, bin := range impls {
		name := filepath.Base(bin)
		var last []Backend
		ok := assert.Eventually(t, func() bool {
			n := s.State().Node(node)
			d := findDaemon(n.Daemons, name)
			if d == nil {
				return false
			}
			last = d.Backends
			health := map[string]string{}
			for _, b := range d.Backends {
				health[b.Name] = b.Health
			}
			return strings.HasPrefix(health["apps/app01"], "UP") && strings.HasPrefix(health["apps/app02"], "DOWN")
		}, 15*time.Second, 100*time.Millisecond, "%s on %s", name, node)
		if !ok {
			t.Logf("%s backends: %+v", name, last)
		}
	}
}
