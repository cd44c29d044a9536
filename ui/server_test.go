package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/faults"
	"halab/lab"
	"halab/reports"
)

// fakeLab is a lab whose status the test sets.
type fakeLab struct {
	topo *lab.Topology
	mu   sync.Mutex
	st   []lab.NodeStatus
}

func newFakeLab(t *testing.T) *fakeLab {
	t.Helper()
	topo, err := lab.LoadTopology(filepath.Join("..", "topologies", "simple.yaml"))
	require.NoError(t, err)
	f := &fakeLab{topo: topo}
	for _, n := range topo.Nodes {
		ns := lab.NodeStatus{Name: n.Name, Role: n.Role}
		for _, ifc := range n.Interfaces {
			is := lab.IfaceStatus{Name: ifc.Name, Up: true}
			for _, a := range ifc.Addresses {
				is.Addresses = append(is.Addresses, a.Prefix.String())
			}
			ns.Interfaces = append(ns.Interfaces, is)
		}
		f.st = append(f.st, ns)
	}
	return f
}

func (f *fakeLab) Name() string            { return "fake" }
func (f *fakeLab) Topology() *lab.Topology { return f.topo }
func (f *fakeLab) Node(name string) (*lab.Node, error) {
	return nil, errors.New("fake lab has no nodes to run things in")
}
func (f *fakeLab) Status() ([]lab.NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]lab.NodeStatus, len(f.st))
	for i, n := range f.st {
		n.Interfaces = append([]lab.IfaceStatus(nil), n.Interfaces...)
		for j := range n.Interfaces {
			n.Interfaces[j].Addresses = append([]string(nil), n.Interfaces[j].Addresses...)
		}
		out[i] = n
	}
	return out, nil
}

// addAddr adds an address to a node interface, as a VRRP daemon would.
func (f *fakeLab) addAddr(node, iface, addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.st {
		if f.st[i].Name != node {
			continue
		}
		for j := range f.st[i].Interfaces {
			if f.st[i].Interfaces[j].Name == iface {
				f.st[i].Interfaces[j].Addresses = append(f.st[i].Interfaces[j].Addresses, addr)
			}
		}
	}
}

// recFaults records the actions it is asked for.
type recFaults struct {
	mu      sync.Mutex
	actions []Action
}

func (r *recFaults) Apply(ctx context.Context, a Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions = append(r.actions, a)
	return nil
}

func (r *recFaults) got() []Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Action(nil), r.actions...)
}

func startFake(t *testing.T) (*Server, *fakeLab, *recFaults) {
	t.Helper()
	f := newFakeLab(t)
	rf := &recFaults{}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := serve(ctx, f, Options{Listen: "127.0.0.1:0", Faults: rf, Token: "s3cret-token"})
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); <-s.Done() })
	return s, f, rf
}

func baseURL(s *Server) string { return "http://" + s.Addr().String() }

func TestTokenCheck(t *testing.T) {
	s, _, rf := startFake(t)
	action := `{"action":"kill","node":"nginx01","daemon":"vrrpd"}`
	tests := []struct {
		name string
		req  func() *http.Request
		code int
	}{
		{"no token", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action", strings.NewReader(action))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusUnauthorized},
		{"wrong bearer", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action", strings.NewReader(action))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer s3cret-tokeN")
			return r
		}, http.StatusUnauthorized},
		{"prefix of the token", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action", strings.NewReader(action))
			r.Header.Set("Authorization", "Bearer s3cret")
			return r
		}, http.StatusUnauthorized},
		{"wrong form token", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action",
				strings.NewReader(url.Values{"token": {"nope"}, "action": {"kill"}, "node": {"nginx01"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, http.StatusUnauthorized},
		{"token in the query string is not enough", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action?token=s3cret-token", strings.NewReader(action))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusUnauthorized},
		{"probe without token", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/probe", strings.NewReader(`{"op":"stop"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusUnauthorized},
		{"bearer token", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action", strings.NewReader(action))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer s3cret-token")
			return r
		}, http.StatusOK},
		{"form token", func() *http.Request {
			r, _ := http.NewRequest("POST", baseURL(s)+"/api/action",
				strings.NewReader(url.Values{"token": {"s3cret-token"}, "action": {"stop"}, "node": {"nginx02"}, "daemon": {"vrrpd"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req())
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.code, resp.StatusCode, string(body))
		})
	}
	assert.Equal(t, []Action{
		{Kind: "kill", Node: "nginx01", Daemon: "vrrpd"},
		{Kind: "stop", Node: "nginx02", Daemon: "vrrpd"},
	}, rf.got(), "only authorized actions reach the fault engine")
	// Actions land on the timeline.
	var texts []string
	for _, e := range s.Timeline().Events {
		if e.Kind == "fault" {
			texts = append(texts, e.Text)
		}
	}
	assert.Equal(t, []string{"kill vrrpd on nginx01", "stop vrrpd on nginx02"}, texts)
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:7411", false, true},
		{"127.0.0.2:0", false, true},
		{"[::1]:7411", false, true},
		{"localhost:7411", false, true},
		{"0.0.0.0:7411", false, false},
		{":7411", false, false},
		{"10.1.2.3:7411", false, false},
		{"0.0.0.0:7411", true, true},
		{"nonsense", false, false},
	}
	for _, tc := range tests {
		err := checkListen(tc.addr, tc.remote)
		assert.Equal(t, tc.ok, err == nil, "%s remote=%v: %v", tc.addr, tc.remote, err)
	}
	_, err := serve(context.Background(), newFakeLab(t), Options{Listen: "0.0.0.0:0"})
	require.ErrorContains(t, err, "not a loopback address")
}

func getState(t *testing.T, s *Server) *State {
	t.Helper()
	resp, err := http.Get(baseURL(s) + "/api/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st State
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return &st
}

func TestStateAPIFake(t *testing.T) {
	s, f, _ := startFake(t)
	st := getState(t, s)
	assert.Equal(t, "fake", st.Lab)
	require.Len(t, st.Nodes, 5)
	assert.Equal(t, "nginx01", st.Nodes[1].Name)
	assert.Equal(t, "proxy", st.Nodes[1].Role)
	assert.Equal(t, []string{"10.0.1.11/24"}, st.Nodes[1].Interfaces[0].Addresses)
	assert.Empty(t, st.VIPs)

	f.addAddr("nginx02", "eth0", "10.0.1.100/32")
	require.Eventually(t, func() bool { return len(getState(t, s).VIPs) == 1 }, 3*time.Second, 20*time.Millisecond)
	st = getState(t, s)
	assert.Equal(t, map[string][]string{"10.0.1.100": {"nginx02"}}, st.VIPs)
	n2 := st.Node("nginx02")
	assert.Equal(t, []string{"10.0.1.100"}, n2.VIPs)
	assert.Equal(t, []string{"10.0.1.12/24"}, n2.Interfaces[0].Addresses, "the VIP is not a configured address")
	assert.Equal(t, []string{"10.0.1.100/32"}, n2.Interfaces[0].VIPs)

	// A split brain shows both holders.
	f.addAddr("nginx01", "eth0", "10.0.1.100/32")
	require.Eventually(t, func() bool { return len(getState(t, s).VIPs["10.0.1.100"]) == 2 }, 3*time.Second, 20*time.Millisecond)

	// The page, its script and the drawing are served.
	for path, want := range map[string]string{"/": "<title>halab", "/app.js": "EventSource", "/style.css": ".halab-graph", "/api/graph.svg": `id="node-nginx01"`, "/api/timeline": "nginx02 now holds VIP 10.0.1.100"} {
		resp, err := http.Get(baseURL(s) + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Contains(t, string(body), want, path)
	}
}

// sseReader reads Server-Sent Events messages from a response.
type sseReader struct{ sc *bufio.Scanner }

type sseMsg struct {
	event string
	data  string
	at    time.Time
}

func openSSE(t *testing.T, ctx context.Context, u string) *sseReader {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &sseReader{sc: sc}
}

func (r *sseReader) next() (sseMsg, error) {
	var m sseMsg
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if m.event != "" {
				m.at = time.Now()
				return m, nil
			}
		case strings.HasPrefix(line, "event: "):
			m.event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			m.data = line[len("data: "):]
		}
	}
	if err := r.sc.Err(); err != nil {
		return m, err
	}
	return m, io.EOF
}

// waitState reads messages until a state satisfies ok.
func (r *sseReader) waitState(t *testing.T, ok func(*State) bool) (*State, time.Time) {
	t.Helper()
	for {
		m, err := r.next()
		require.NoError(t, err)
		if m.event != "state" {
			continue
		}
		var st State
		require.NoError(t, json.Unmarshal([]byte(m.data), &st))
		if ok(&st) {
			return &st, m.at
		}
	}
}

func TestEventStreamFake(t *testing.T) {
	s, f, _ := startFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := openSSE(t, ctx, baseURL(s)+"/api/events")
	first, _ := r.waitState(t, func(*State) bool { return true })
	assert.Empty(t, first.VIPs, "the current state comes first")
	start := time.Now()
	f.addAddr("nginx01", "eth0", "10.0.1.100/32")
	st, at := r.waitState(t, func(st *State) bool { return len(st.VIPs["10.0.1.100"]) > 0 })
	assert.Equal(t, []string{"nginx01"}, st.VIPs["10.0.1.100"])
	assert.Greater(t, st.Seq, first.Seq)
	t.Logf("VIP change pushed after %s", at.Sub(start))
	assert.Less(t, at.Sub(start), 200*time.Millisecond)
	// The diff is on the timeline too.
	for {
		m, err := r.next()
		require.NoError(t, err)
		if m.event == "event" && strings.Contains(m.data, "nginx01 now holds VIP 10.0.1.100") {
			break
		}
	}
}

func TestHubDropsSlowSubscriber(t *testing.T) {
	h := newHub()
	ch, unsubscribe := h.subscribe()
	defer unsubscribe()
	for i := 0; i < 300; i++ {
		h.publish("x", i)
	}
	assert.Equal(t, 0, h.count())
	n := 0
	for range ch {
		n++
	}
	assert.Equal(t, 256, n, "buffered messages are delivered, then the channel closes")
}

// The page's timeline is the report's drawing of the recorded samples,
// with the events listed below it.
func TestTimelinePanel(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	r := newRecorder(t0)
	master := &State{Time: t0, VIPs: map[string][]string{"10.0.1.100": {"nginx01"}}, Nodes: []NodeState{
		{Name: "nginx01", Daemons: []Daemon{{Name: "vrrpd", Kind: "vrrp", VRRP: []VRRPInstance{{Name: "VI_1", State: "MASTER"}}}}},
		{Name: "app01", Daemons: []Daemon{{Name: "labapp", Kind: "app"}}},
	}}
	r.observe(master)
	again := *master
	again.Time = t0.Add(time.Second)
	r.observe(&again)
	r.observe(&State{Time: t0.Add(4 * time.Second), VIPs: map[string][]string{}, Nodes: []NodeState{{Name: "nginx01"}, {Name: "app01"}}})
	r.addRequest(ProbeResult{Time: t0.Add(time.Second), OK: true, App: "app01", Latency: 2})
	r.addRequest(ProbeResult{Time: t0.Add(5 * time.Second), Error: "refused"})
	r.addEvents(Event{Time: t0.Add(4 * time.Second), Kind: "fault", Text: "kill vrrpd on <nginx01>"})

	tl := r.snapshot(t0.Add(10 * time.Second))
	assert.Equal(t, []string{"nginx01"}, tl.Nodes, "only VRRP nodes get a lane")
	assert.Equal(t, []string{"10.0.1.100"}, tl.VIPs)
	require.Len(t, tl.Samples, 2, "unchanged samples are not kept")
	assert.Equal(t, "DOWN", tl.Samples[1].VRRP["nginx01"])
	require.Len(t, tl.Traffic, 1)
	assert.Len(t, tl.Traffic[0].Requests(), 2)

	var b strings.Builder
	require.NoError(t, renderTimeline(&b, r))
	html := b.String()
	assert.Contains(t, html, string(reports.TimelineSVG(r.snapshot(t0.Add(10 * time.Second))))[:200], "the report's drawing")
	assert.Contains(t, html, "nginx01 VRRP")
	assert.Contains(t, html, reports.StateColors()["MASTER"])
	assert.Contains(t, html, reports.AppColor("app01"))
	assert.Contains(t, html, "kill vrrpd on &lt;nginx01&gt;", "text is escaped")
	assert.Contains(t, html, `<li class="ev-fault">`)
}

func TestDiffStates(t *testing.T) {
	t0 := time.Now()
	mk := func(vips []string, vrrpState string, daemonState string, up bool) *State {
		n := NodeState{Name: "nginx01", VIPs: vips, Interfaces: []IfaceState{{Name: "eth0", Up: up}}}
		if vrrpState != "" {
			n.Daemons = []Daemon{{Name: "vrrpd", Kind: "vrrp", PID: 1, State: daemonState,
				VRRP: []VRRPInstance{{Name: "VI_1", State: vrrpState, EffectivePriority: 101}}}}
		}
		return &State{Time: t0, Nodes: []NodeState{n}}
	}
	tests := []struct {
		name      string
		prev, cur *State
		want      []string
	}{
		{"nothing", mk(nil, "BACKUP", "running", true), mk(nil, "BACKUP", "running", true), nil},
		{"becomes master", mk(nil, "BACKUP", "running", true), mk([]string{"10.0.1.100"}, "MASTER", "running", true),
			[]string{"nginx01 now holds VIP 10.0.1.100", "nginx01 VI_1: BACKUP -> MASTER (priority 101)"}},
		{"daemon killed", mk([]string{"10.0.1.100"}, "MASTER", "running", true), mk([]string{"10.0.1.100"}, "", "", true),
			[]string{"vrrpd on nginx01 is gone (pid 1)"}},
		{"stopped", mk(nil, "MASTER", "running", true), mk(nil, "MASTER", "stopped", true), []string{"vrrpd on nginx01 is stopped"}},
		{"link down", mk(nil, "", "", true), mk(nil, "", "", false), []string{"nginx01:eth0 is down"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range diffStates(tc.prev, tc.cur) {
				got = append(got, e.Text)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestProcName(t *testing.T) {
	for argv0, want := range map[string]string{
		"/var/tmp/x/vrrpd":                      "vrrpd",
		"nginx: worker process":                 "nginx",
		"nginx: master process /usr/sbin/nginx": "nginx",
		"/usr/sbin/keepalived":                  "keepalived",
	} {
		assert.Equal(t, want, faults.ProcName([]string{argv0}), argv0)
	}
	v, ok := flagValue([]string{"vrrpd", "-f", "/a.conf", "--status-file=/run/s.json"}, "--status-file")
	assert.True(t, ok)
	assert.Equal(t, "/run/s.json", v)
	v, ok = flagValue([]string{"keepalived", "-n", "-f", "/a.conf"}, "-f", "--use-file")
	assert.True(t, ok)
	assert.Equal(t, "/a.conf", v)
}

func TestParseStatsCSV(t *testing.T) {
	in := "# pxname,svname,qcur,status,addr,\n" +
		"web,FRONTEND,,OPEN,,\n" +
		"apps,app01,0,UP,10.0.2.21:80,\n" +
		"apps,app02,0,DOWN 1/2,10.0.2.22:80,\n" +
		"apps,BACKEND,0,UP,,\n"
	got, err := parseStatsCSV(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []Backend{
		{Name: "apps/app01", Addr: "10.0.2.21:80", Health: "UP"},
		{Name: "apps/app02", Addr: "10.0.2.22:80", Health: "DOWN 1/2"},
	}, got)
	_, err = parseStatsCSV(strings.NewReader("not,a,stats,page\n"))
	require.Error(t, err)
}
