package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// head is a scenario's first 12 lines: an inline two-node topology.
const head = `name: t
topology:
  name: t
  lans: [front]
  nodes:
    - name: client
      interfaces: [{name: eth0, lan: front, addresses: [10.0.1.10/24]}]
    - name: nginx01
      interfaces: [{name: eth0, lan: front, addresses: [10.0.1.11/24]}]
    - name: nginx02
      interfaces: [{name: eth0, lan: front, addresses: [10.0.1.12/24]}]
`

// scenarioDir holds config files the test scenarios name.
func scenarioDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"keepalived.conf", "nginx.conf"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("# test\n"), 0o644))
	}
	return dir
}

func parse(t *testing.T, dir, text string) (*Scenario, error) {
	t.Helper()
	return Parse(filepath.Join(dir, "s.yaml"), []byte(text))
}

func TestParseFull(t *testing.T) {
	dir := scenarioDir(t)
	s, err := parse(t, dir, head+`description: everything
impl: reference
vips: [10.0.1.100]
capture: [nginx01:eth0]
timeout: 30s
na: {go: "not yet"}
daemons:
  nginx01:
    - {kind: keepalived, config: keepalived.conf}
    - {kind: nginx, name: web, config: nginx.conf, files: [keepalived.conf]}
steps:
  - traffic: {name: w, from: client, url: "http://10.0.1.100/", host: www.example.com, cookies: true, keepalive: true, rate: 20, duration: 2s, timeout: 500ms}
  - traffic: {name: c, from: client, connect: "10.0.1.100:80", count: 5}
  - signal: {node: nginx01, daemon: keepalived, signal: KILL}
  - {name: hup, signal: {node: nginx01, process: nginx, signal: SIGHUP}}
  - stop: {node: nginx01, daemon: web}
  - start: {node: nginx01, daemon: web}
  - restart: {node: nginx01, daemon: keepalived}
  - link_down: {node: nginx01, iface: eth0}
  - link_up: {node: nginx01, iface: eth0}
  - crash: nginx01
  - recover: nginx01
  - partition: {groups: [[nginx01], [nginx02, client]]}
  - heal:
  - block_vrrp: [nginx01, nginx02]
  - unblock_vrrp: true
  - loss: {node: nginx01, iface: eth0, percent: 30}
  - bandwidth: {node: nginx01, iface: eth0, rate: 1mbit, burst: 32kbit}
  - pause: 1s
  - wait: {traffic: w}
  - wait: {vip: 10.0.1.100, holder: nginx02, within: 5s}
  - expect: {vip: 10.0.1.100, one_holder: true}
  - expect: {vip: 10.0.1.100, split_brain: true, within: 3s}
  - expect: {traffic: w, max_failures: 3, longest_outage_under: 2s, min_success_ratio: 0.9, spread: {apps: [nginx01, nginx02], tolerance: 0.2}, sticky: cookie, set_cookie: "^JSESSIONID=", headers: {Server: nginx}, client_addr_seen: true, apps: [nginx01]}
  - expect: {log: {node: nginx01, daemon: keepalived, match: "Entering MASTER"}, within: 5s}
  - expect: {log: {node: nginx01, file: /var/log/nginx/error.log, match: "x"}}
  - expect: {state: {node: nginx01, instance: VI_1, is: MASTER}, within: 5s}
  - expect: {trace: [{vrrp: true, from: nginx02, priority: 90, vrid: 51}, {garp: 10.0.1.100, from: nginx02, on: "nginx01:eth0"}], within: 5s}
  - expect: {no_trace: {vrrp: true, from: 10.0.1.11, on: nginx01}, since: start}
  - na: {reference: "needs IPVS"}
    expect: {traffic: c, apps: [nginx02]}
`)
	require.NoError(t, err)
	assert.Equal(t, "t", s.Name)
	assert.Equal(t, ImplReference, s.Impl)
	assert.Equal(t, 30*time.Second, s.Timeout)
	assert.Equal(t, map[string]string{"go": "not yet"}, s.NA)
	require.Len(t, s.Daemons, 2)
	assert.Equal(t, Daemon{Node: "nginx01", Name: "keepalived", Kind: "keepalived", Config: "keepalived.conf", Line: 20}, s.Daemons[0])
	assert.Equal(t, "web", s.Daemons[1].Name)
	assert.Equal(t, []CaptureSpec{{Node: "nginx01", Iface: "eth0", Line: 15}}, s.Capture)
	require.Len(t, s.Steps, 29)
	var actions []string
	for _, st := range s.Steps {
		actions = append(actions, st.Action())
	}
	assert.Equal(t, "traffic traffic signal signal stop start restart link_down link_up crash recover partition heal "+
		"block_vrrp unblock_vrrp loss bandwidth pause wait wait expect expect expect expect expect expect expect expect expect",
		strings.Join(actions, " "))
	w := s.Steps[0].Traffic
	assert.Equal(t, TrafficStep{Name: "w", From: "client", URL: "http://10.0.1.100/", Host: "www.example.com", Cookies: true,
		KeepAlive: true, Rate: 20, Duration: Duration(2 * time.Second), Timeout: Duration(500 * time.Millisecond), Line: 23}, *w)
	assert.Equal(t, "hup", s.Steps[3].Name)
	assert.Equal(t, 24, s.Steps[1].Line)
	assert.Equal(t, "vip", s.Steps[19].Wait.Kind())
	assert.Equal(t, 2*time.Second, s.Steps[22].Expect.LongestOutageUnder.D())
	assert.Equal(t, 90, *s.Steps[26].Expect.Trace[0].Priority)
	assert.Equal(t, map[string]string{"reference": "needs IPVS"}, s.Steps[28].NA)
	assert.True(t, s.Steps[2].IsFault())
	assert.False(t, s.Steps[18].IsFault())
}

func TestParseTopologyFile(t *testing.T) {
	s, err := Load("examples/app-link-flap.yaml")
	require.NoError(t, err)
	assert.Equal(t, "simple", s.Topology.Name)
	_, err = parse(t, t.TempDir(), "name: x\ntopology: nowhere.yaml\nsteps: [{pause: 1s}]\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s.yaml:2: topology file nowhere.yaml: no such file or directory")
}

func TestParseErrors(t *testing.T) {
	dir := scenarioDir(t)
	ok := "steps:\n  - pause: 1s\n" // a valid steps section
	tests := []struct{ name, text, want string }{
		{"empty", "", "s.yaml: empty scenario"},
		{"not yaml", "name: [", "s.yaml:1: did not find expected node content"},
		{"unknown top key", head + "colour: red\n" + ok, `s.yaml:12: unknown field "colour" in scenario`},
		{"no topology", "name: x\nsteps: [{pause: 1s}]\n", "s.yaml:1: no topology"},
		{"bad inline topology", "name: x\ntopology: {name: x, nodes: [{name: a, colour: 1}]}\nsteps: [{pause: 1s}]\n", `s.yaml:2: topology: unknown field "colour" in node`},
		{"invalid inline topology", "name: x\ntopology:\n  name: x\n  nodes:\n    - name: a\n      interfaces: [{name: eth0, lan: nowhere}]\nsteps: [{pause: 1s}]\n", "s.yaml:6:"},
		{"no name", strings.Replace(head, "name: t\n", "description: x\n", 1) + ok, "s.yaml: no name"},
		{"bad impl", head + "impl: rust\n" + ok, `s.yaml:12: impl "rust": want go or reference`},
		{"bad vip", head + "vips: [10.0.1]\n" + ok, `vips: "10.0.1" is not an IP address`},
		{"bad capture", head + "capture: [nginx01]\n" + ok, "s.yaml:12: capture entry must be NODE:IFACE"},
		{"capture unknown iface", head + "capture: [nginx01:eth7]\n" + ok, `s.yaml:12: node nginx01 has no interface "eth7"`},
		{"bad timeout", head + "timeout: soon\n" + ok, `s.yaml:12: bad duration "soon"`},
		{"na unknown impl", head + "na: {rust: x}\n" + ok, `s.yaml:12: na: unknown implementation "rust"`},
		{"na no reason", head + "na: {go: \"\"}\n" + ok, "s.yaml:12: na: go needs a reason"},
		{"daemons not map", head + "daemons: [x]\n" + ok, "s.yaml:12: daemons must map node names"},
		{"daemons not list", head + "daemons: {nginx01: x}\n" + ok, "s.yaml:12: daemons of nginx01 must be a list"},
		{"daemon unknown node", head + "daemons: {web9: [{kind: nginx, config: nginx.conf}]}\n" + ok, `s.yaml:12: daemons: unknown node "web9"`},
		{"daemon unknown kind", head + "daemons: {nginx01: [{kind: apache, config: nginx.conf}]}\n" + ok, `unknown kind "apache"`},
		{"daemon no kind", head + "daemons: {nginx01: [{config: nginx.conf}]}\n" + ok, "daemon on nginx01: no kind"},
		{"daemon unknown field", head + "daemons: {nginx01: [{kind: nginx, conf: nginx.conf}]}\n" + ok, `s.yaml:12: unknown field "conf" in daemon`},
		{"daemon no config", head + "daemons: {nginx01: [{kind: nginx}]}\n" + ok, "daemon nginx on nginx01: no config file"},
		{"daemon missing config", head + "daemons: {nginx01: [{kind: nginx, config: other.conf}]}\n" + ok, "config file other.conf not found"},
		{"daemon config outside", head + "daemons: {nginx01: [{kind: nginx, config: ../nginx.conf}]}\n" + ok, "must be relative to the scenario's directory"},
		{"daemon duplicate", head + "daemons: {nginx01: [{kind: nginx, config: nginx.conf}, {kind: nginx, config: nginx.conf}]}\n" + ok, `node nginx01 has two daemons named "nginx"`},
		{"no steps", head, "s.yaml: no steps"},
		{"steps not list", head + "steps: {pause: 1s}\n", "s.yaml:12: steps must be a list"},
		{"step no action", head + "steps:\n  - name: x\n", "s.yaml:13: step has no action"},
		{"step two actions", head + "steps:\n  - pause: 1s\n    heal: true\n", "s.yaml:14: step has two actions, pause and heal"},
		{"step unknown", head + "steps:\n  - explode: nginx01\n", `s.yaml:13: unknown field "explode" in step`},
		{"step not map", head + "steps:\n  - pause\n", "s.yaml:13: step must be a mapping"},
		{"pause zero", head + "steps:\n  - pause: 0s\n", "s.yaml:13: pause must be longer than 0s"},
		{"pause bad", head + "steps:\n  - pause: -1s\n", `s.yaml:13: bad duration "-1s"`},
		{"traffic unknown field", head + "steps:\n  - traffic: {name: w, from: client, uri: x}\n", `s.yaml:13: unknown field "uri" in traffic`},
		{"traffic no name", head + "steps:\n  - traffic: {from: client, url: \"http://x/\", count: 1}\n", "s.yaml:13: traffic: no name"},
		{"traffic dup name", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n", `s.yaml:14: traffic: name "w" already used at line 13`},
		{"traffic unknown node", head + "steps:\n  - traffic: {name: w, from: c9, url: \"http://x/\", count: 1}\n", `traffic: unknown node "c9"`},
		{"traffic no target", head + "steps:\n  - traffic: {name: w, from: client, count: 1}\n", "set either url (HTTP probes) or connect"},
		{"traffic bad url", head + "steps:\n  - traffic: {name: w, from: client, url: \"ftp://x/\", count: 1}\n", `traffic: url "ftp://x/": want http://`},
		{"traffic bad connect", head + "steps:\n  - traffic: {name: w, from: client, connect: x, count: 1}\n", `traffic: connect "x": want HOST:PORT`},
		{"traffic connect cookies", head + "steps:\n  - traffic: {name: w, from: client, connect: \"x:80\", cookies: true, count: 1}\n", "apply to HTTP probes"},
		{"traffic bad rate", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", rate: 5000, count: 1}\n", "traffic: rate 5000"},
		{"traffic no length", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\"}\n", "set either duration or count"},
		{"traffic both lengths", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 2, duration: 1s}\n", "set either duration or count"},
		{"traffic bad duration", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", duration: 1}\n", `s.yaml:13: bad duration "1"`},
		{"traffic bad bool", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1, cookies: yes please}\n", "s.yaml:13: cannot unmarshal a string `yes please` into bool"},
		{"signal both", head + "daemons: {nginx01: [{kind: nginx, config: nginx.conf}]}\nsteps:\n  - signal: {node: nginx01, daemon: nginx, process: nginx, signal: KILL}\n", "s.yaml:14: signal: name either a daemon or a process"},
		{"signal unknown daemon", head + "steps:\n  - signal: {node: nginx01, daemon: nginx, signal: KILL}\n", `s.yaml:13: signal: node nginx01 has no daemon "nginx"`},
		{"signal bad", head + "steps:\n  - signal: {node: nginx01, process: nginx, signal: BOOM}\n", `signal: unknown signal "BOOM"`},
		{"stop no daemon", head + "steps:\n  - stop: {node: nginx01}\n", "s.yaml:13: stop: no daemon"},
		{"restart unknown node", head + "steps:\n  - restart: {node: x, daemon: nginx}\n", `restart: unknown node "x"`},
		{"link unknown iface", head + "steps:\n  - link_down: {node: nginx01, iface: eth3}\n", `s.yaml:13: node nginx01 has no interface "eth3"`},
		{"link no iface", head + "steps:\n  - link_up: {node: nginx01}\n", "s.yaml:13: no iface for node nginx01"},
		{"crash not scalar", head + "steps:\n  - crash: [nginx01]\n", "s.yaml:13: crash wants a node name"},
		{"crash unknown", head + "steps:\n  - crash: nginx09\n", `crash: unknown node "nginx09"`},
		{"recover unknown", head + "steps:\n  - recover: nginx09\n", `recover: unknown node "nginx09"`},
		{"partition one group", head + "steps:\n  - partition: {groups: [[nginx01]]}\n", "partition: want at least two groups"},
		{"partition overlap", head + "steps:\n  - partition: {groups: [[nginx01], [nginx01, client]]}\n", "partition: node nginx01 is in two groups"},
		{"partition empty", head + "steps:\n  - partition: {groups: [[nginx01], []]}\n", "partition: empty group"},
		{"heal value", head + "steps:\n  - heal: [x]\n", "s.yaml:13: heal wants true"},
		{"block vrrp not list", head + "steps:\n  - block_vrrp: nginx01\n", "block_vrrp wants a list of nodes"},
		{"block vrrp one", head + "steps:\n  - block_vrrp: [nginx01]\n", "block_vrrp: name at least two nodes"},
		{"loss percent", head + "steps:\n  - loss: {node: nginx01, iface: eth0, percent: 120}\n", "loss: percent 120"},
		{"bandwidth rate", head + "steps:\n  - bandwidth: {node: nginx01, iface: eth0, rate: fast}\n", `bandwidth: rate "fast"`},
		{"bandwidth burst", head + "steps:\n  - bandwidth: {node: nginx01, iface: eth0, rate: 1mbit, burst: big}\n", `bandwidth: burst "big"`},
		{"expect nothing", head + "steps:\n  - expect: {within: 1s}\n", "s.yaml:13: expect: say what to check"},
		{"expect two kinds", head + "steps:\n  - expect: {vip: 10.0.1.100, one_holder: true, log: {node: nginx01, file: /x, match: y}}\n", "expect: one check per step, not vip and log"},
		{"expect unknown field", head + "steps:\n  - expect: {vip: 10.0.1.100, holder: nginx01, whithin: 1s}\n", `s.yaml:13: unknown field "whithin" in expectation`},
		{"expect bad vip", head + "steps:\n  - expect: {vip: nginx, one_holder: true}\n", `expect: vip "nginx" is not an IP address`},
		{"expect vip no check", head + "steps:\n  - expect: {vip: 10.0.1.100}\n", "expect: vip: set one of holder, one_holder or split_brain"},
		{"expect vip two checks", head + "steps:\n  - expect: {vip: 10.0.1.100, one_holder: true, split_brain: true}\n", "set one of holder"},
		{"expect vip unknown holder", head + "steps:\n  - expect: {vip: 10.0.1.100, holder: x}\n", `expect vip holder: unknown node "x"`},
		{"expect holder without vip", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, holder: nginx01, max_failures: 1}\n", "holder, one_holder and split_brain apply to vip"},
		{"traffic checks on vip", head + "steps:\n  - expect: {vip: 10.0.1.100, one_holder: true, max_failures: 2}\n", "apply to traffic"},
		{"wait no timeout", head + "steps:\n  - wait: {vip: 10.0.1.100, one_holder: true}\n", "s.yaml:13: wait: no timeout: set within"},
		{"expect unknown traffic", head + "steps:\n  - expect: {traffic: w, max_failures: 1}\n", `expect: no traffic step named "w" before this step`},
		{"expect traffic later", head + "steps:\n  - expect: {traffic: w, max_failures: 1}\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n", "s.yaml:13: expect: no traffic step named"},
		{"expect traffic no check", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w}\n", "s.yaml:14: expect: traffic w: no check"},
		{"wait traffic with check", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - wait: {traffic: w, max_failures: 1}\n", "put checks in an expect step"},
		{"max failures negative", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, max_failures: -1}\n", "max_failures must be 0 or more"},
		{"ratio range", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, min_success_ratio: 1.5}\n", "min_success_ratio 1.5"},
		{"spread one app", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, spread: {apps: [nginx01], tolerance: 0.1}}\n", "spread: name at least two apps"},
		{"spread tolerance", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, spread: {apps: [nginx01, nginx02]}}\n", "spread: tolerance 0"},
		{"spread unknown field", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, spread: {app: [nginx01]}}\n", `s.yaml:14: unknown field "app" in spread`},
		{"sticky bad", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, sticky: ip}\n", `sticky "ip": want cookie or client`},
		{"set cookie regex", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, set_cookie: \"(\"}\n", "expect set_cookie: bad regular expression"},
		{"header regex", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, headers: {Server: \"[\"}}\n", "expect header Server: bad regular expression"},
		{"apps unknown", head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, apps: [app09]}\n", `expect apps: unknown node "app09"`},
		{"log both", head + "steps:\n  - expect: {log: {node: nginx01, file: /x, daemon: nginx, match: y}}\n", "log: name either a daemon or a file"},
		{"log relative", head + "steps:\n  - expect: {log: {node: nginx01, file: x.log, match: y}}\n", `log file "x.log" must be an absolute path`},
		{"log no match", head + "steps:\n  - expect: {log: {node: nginx01, file: /x.log}}\n", "expect log match: empty pattern"},
		{"log unknown field", head + "steps:\n  - expect: {log: {node: nginx01, file: /x.log, grep: y}}\n", `unknown field "grep" in log expectation`},
		{"state no keepalived", head + "steps:\n  - expect: {state: {node: nginx01, is: MASTER}}\n", "state: node nginx01 runs no keepalived daemon"},
		{"state bad", head + "daemons: {nginx01: [{kind: keepalived, config: keepalived.conf}]}\nsteps:\n  - expect: {state: {node: nginx01, is: master}}\n", `state "master": want MASTER, BACKUP or FAULT`},
		{"state unknown field", head + "steps:\n  - expect: {state: {node: nginx01, was: MASTER}}\n", `unknown field "was" in state expectation`},
		{"since bad", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {no_trace: {vrrp: true}, since: yesterday}\n", `since "yesterday"`},
		{"trace no capture", head + "steps:\n  - expect: {trace: [{vrrp: true}]}\n", "s.yaml:13: expect: trace expectations need captures"},
		{"trace empty", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: []}\n", "expect: trace: empty sequence"},
		{"trace two kinds", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{vrrp: true, garp: 10.0.1.100}]}\n", "s.yaml:14: expect: trace pattern: set one of vrrp, garp or tcp"},
		{"trace bad garp", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{garp: vip}]}\n", `garp "vip" is not an IP address`},
		{"trace bad flags", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{tcp: SYN}]}\n", `tcp flags "SYN"`},
		{"trace priority range", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{vrrp: true, priority: 300}]}\n", "priority 300"},
		{"trace priority not vrrp", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{tcp: S, priority: 3}]}\n", "priority and vrid apply to vrrp"},
		{"trace bad from", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{vrrp: true, from: nginx9}]}\n", `"nginx9" is neither a node nor an IP address`},
		{"trace port", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{tcp: S, port: 70000}]}\n", "port 70000 out of range"},
		{"trace not captured", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{vrrp: true, on: nginx02}]}\n", "on nginx02: not captured (capture: nginx01:eth0)"},
		{"trace unknown field", head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{vrrp: true, prio: 3}]}\n", `s.yaml:14: unknown field "prio" in trace pattern`},
		{"step na bad", head + "steps:\n  - pause: 1s\n    na: {reference: \"\"}\n", "s.yaml:14: na: reference needs a reason"},
		{"step na not map", head + "steps:\n  - pause: 1s\n    na: x\n", "s.yaml:14: na must map an implementation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, dir, tt.text)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), filepath.Join(dir, "s.yaml")), "error names the file: %v", err)
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := parse(t, scenarioDir(t), head+"steps:\n  - crash: x\n  - recover: y\n  - link_down: {node: nginx01, iface: eth9}\n")
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3, err.Error())
	assert.Contains(t, lines[0], "s.yaml:13:")
	assert.Contains(t, lines[1], "s.yaml:14:")
	assert.Contains(t, lines[2], "s.yaml:15:")
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.yaml", "a.yml", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	files, err := Discover([]string{dir, "examples/app-link-flap.yaml"})
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "a.yml"), filepath.Join(dir, "b.yaml"), "examples/app-link-flap.yaml"}, files)
	_, err = Discover([]string{filepath.Join(dir, "none")})
	assert.Error(t, err)
	_, err = Discover([]string{t.TempDir()})
	assert.ErrorContains(t, err, "no scenario files")
}
