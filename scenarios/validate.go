package scenarios

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Signals a signal step may send.
var signalNames = map[string]bool{"KILL": true, "TERM": true, "STOP": true, "CONT": true, "HUP": true, "INT": true, "QUIT": true, "USR1": true, "USR2": true}

var (
	tcRateRe  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$`)
	tcpFlagRe = regexp.MustCompile(`^[SAFRPU]+$`)
	vrrpState = map[string]bool{"MASTER": true, "BACKUP": true, "FAULT": true}
)

// Validate checks everything a run would otherwise trip on half way: names,
// nodes, interfaces, files, durations, regular expressions, references to
// earlier steps. Every problem is reported as FILE:LINE: problem.
func (s *Scenario) Validate() error {
	v := &validator{s: s, nodes: map[string]map[string]bool{}, traffic: map[string]int{}, daemons: map[string]*Daemon{}}
	for _, n := range s.Topology.Nodes {
		ifs := map[string]bool{}
		for _, i := range n.Interfaces {
			ifs[i.Name] = true
		}
		v.nodes[n.Name] = ifs
	}
	if strings.TrimSpace(s.Name) == "" {
		v.bad(0, "no name")
	}
	for _, vip := range s.VIPs {
		if _, err := netip.ParseAddr(vip); err != nil {
			v.bad(0, "vips: %q is not an IP address", vip)
		}
	}
	v.captured = map[string]bool{}
	for _, c := range s.Capture {
		if v.iface(c.Line, c.Node, c.Iface) {
			v.captured[c.Node+":"+c.Iface] = true
			v.captured[c.Node] = true
		}
	}
	for i := range s.Daemons {
		v.daemon(&s.Daemons[i])
	}
	if len(s.Steps) == 0 {
		v.bad(0, "no steps")
	}
	for i := range s.Steps {
		v.step(&s.Steps[i])
	}
	return errors.Join(v.errs...)
}

type validator struct {
	s        *Scenario
	errs     []error
	nodes    map[string]map[string]bool // node -> interfaces
	traffic  map[string]int             // traffic name -> line
	daemons  map[string]*Daemon         // node/name -> daemon
	captured map[string]bool            // node and node:iface
}

func (v *validator) bad(line int, format string, args ...any) {
	v.errs = append(v.errs, &PosError{File: v.s.File, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) node(line int, name, what string) bool {
	if name == "" {
		v.bad(line, "%s: no node", what)
		return false
	}
	if _, ok := v.nodes[name]; !ok {
		v.bad(line, "%s: unknown node %q (nodes: %s)", what, name, strings.Join(v.nodeNames(), ", "))
		return false
	}
	return true
}

func (v *validator) nodeNames() []string {
	var out []string
	for _, n := range v.s.Topology.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func (v *validator) iface(line int, node, iface string) bool {
	if !v.node(line, node, "interface") {
		return false
	}
	if iface == "" {
		v.bad(line, "no iface for node %s", node)
		return false
	}
	if !v.nodes[node][iface] {
		v.bad(line, "node %s has no interface %q", node, iface)
		return false
	}
	return true
}

func (v *validator) daemon(d *Daemon) {
	if !v.node(d.Line, d.Node, "daemons") {
		return
	}
	switch d.Kind {
	case KindKeepalived, KindNginx, KindHAProxy, KindKeepalivedLVS:
	case "":
		v.bad(d.Line, "daemon on %s: no kind (keepalived, nginx, haproxy or keepalived-lvs)", d.Node)
	default:
		v.bad(d.Line, "daemon on %s: unknown kind %q (keepalived, nginx, haproxy or keepalived-lvs)", d.Node, d.Kind)
	}
	key := d.Node + "/" + d.Name
	if prev, ok := v.daemons[key]; ok {
		v.bad(d.Line, "node %s has two daemons named %q (first at line %d): name them", d.Node, d.Name, prev.Line)
	}
	v.daemons[key] = d
	if d.Config == "" {
		v.bad(d.Line, "daemon %s on %s: no config file", d.Name, d.Node)
	}
	for _, f := range append([]string{d.Config}, d.Files...) {
		if f == "" {
			continue
		}
		if filepath.IsAbs(f) || strings.HasPrefix(filepath.Clean(f), "..") {
			v.bad(d.Line, "daemon %s on %s: config file %q must be relative to the scenario's directory, inside it", d.Name, d.Node, f)
			continue
		}
		if !fileExists(filepath.Join(v.s.Dir, f)) {
			v.bad(d.Line, "daemon %s on %s: config file %s not found in %s", d.Name, d.Node, f, v.s.Dir)
		}
	}
}

// daemonRef checks a reference to a node's daemon.
func (v *validator) daemonRef(line int, node, name, what string) {
	if !v.node(line, node, what) {
		return
	}
	if name == "" {
		v.bad(line, "%s: no daemon", what)
		return
	}
	if _, ok := v.daemons[node+"/"+name]; !ok {
		v.bad(line, "%s: node %s has no daemon %q", what, node, name)
	}
}

func (v *validator) step(st *Step) {
	line := st.Line
	switch {
	case st.Traffic != nil:
		v.trafficStep(st.Traffic)
	case st.Signal != nil:
		g := st.Signal
		if (g.Daemon == "") == (g.Process == "") {
			v.bad(line, "signal: name either a daemon or a process")
		} else if g.Daemon != "" {
			v.daemonRef(line, g.Node, g.Daemon, "signal")
		} else {
			v.node(line, g.Node, "signal")
		}
		if !signalNames[strings.TrimPrefix(strings.ToUpper(g.Signal), "SIG")] {
			v.bad(line, "signal: unknown signal %q (KILL, TERM, STOP, CONT, HUP, INT, QUIT, USR1, USR2)", g.Signal)
		}
	case st.Stop != nil:
		v.daemonRef(line, st.Stop.Node, st.Stop.Daemon, "stop")
	case st.Start != nil:
		v.daemonRef(line, st.Start.Node, st.Start.Daemon, "start")
	case st.Restart != nil:
		v.daemonRef(line, st.Restart.Node, st.Restart.Daemon, "restart")
	case st.LinkDown != nil:
		v.iface(line, st.LinkDown.Node, st.LinkDown.Iface)
	case st.LinkUp != nil:
		v.iface(line, st.LinkUp.Node, st.LinkUp.Iface)
	case st.Crash != "":
		v.node(line, st.Crash, "crash")
	case st.Recover != "":
		v.node(line, st.Recover, "recover")
	case st.Partition != nil:
		v.partition(st.Partition)
	case st.BlockVRRP != nil:
		if len(st.BlockVRRP) < 2 {
			v.bad(line, "block_vrrp: name at least two nodes")
		}
		for _, n := range st.BlockVRRP {
			v.node(line, n, "block_vrrp")
		}
	case st.Loss != nil:
		v.iface(line, st.Loss.Node, st.Loss.Iface)
		if st.Loss.Percent < 0 || st.Loss.Percent > 100 {
			v.bad(line, "loss: percent %d: want 0 to 100 (0 removes the loss)", st.Loss.Percent)
		}
	case st.Bandwidth != nil:
		b := st.Bandwidth
		v.iface(line, b.Node, b.Iface)
		if b.Rate != "off" && !tcRateRe.MatchString(b.Rate) {
			v.bad(line, "bandwidth: rate %q: want a tc rate such as 1mbit or 500kbit, or off", b.Rate)
		}
		if b.Burst != "" && !tcRateRe.MatchString(b.Burst) {
			v.bad(line, "bandwidth: burst %q: want a size such as 32kbit", b.Burst)
		}
	case st.Wait != nil:
		v.expect(line, st.Wait, true)
	case st.Expect != nil:
		v.expect(line, st.Expect, false)
	}
}

func (v *validator) trafficStep(t *TrafficStep) {
	line := t.Line
	switch {
	case t.Name == "":
		v.bad(line, "traffic: no name (expectations refer to it)")
	case v.traffic[t.Name] != 0:
		v.bad(line, "traffic: name %q already used at line %d", t.Name, v.traffic[t.Name])
	default:
		v.traffic[t.Name] = line
	}
	v.node(line, t.From, "traffic")
	switch {
	case (t.URL == "") == (t.Connect == ""):
		v.bad(line, "traffic: set either url (HTTP probes) or connect (TCP connect probes)")
	case t.URL != "":
		u, err := url.Parse(t.URL)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			v.bad(line, "traffic: url %q: want http://HOST[:PORT]/PATH", t.URL)
		}
	default:
		if _, _, err := net.SplitHostPort(t.Connect); err != nil {
			v.bad(line, "traffic: connect %q: want HOST:PORT", t.Connect)
		}
		if t.Cookies || t.KeepAlive || t.Host != "" {
			v.bad(line, "traffic: cookies, keepalive and host apply to HTTP probes (url), not connect probes")
		}
	}
	if t.Rate < 0 || t.Rate > 1000 {
		v.bad(line, "traffic: rate %g: want 0 < rate <= 1000 requests per second", t.Rate)
	}
	if (t.Duration == 0) == (t.Count == 0) {
		v.bad(line, "traffic: set either duration or count")
	}
	if t.Count < 0 {
		v.bad(line, "traffic: negative count")
	}
	if t.Duration.D() > time.Hour {
		v.bad(line, "traffic: duration over an hour")
	}
}

func (v *validator) partition(p *PartitionStep) {
	if len(p.Groups) < 2 {
		v.bad(p.Line, "partition: want at least two groups of nodes")
	}
	seen := map[string]bool{}
	for _, g := range p.Groups {
		if len(g) == 0 {
			v.bad(p.Line, "partition: empty group")
		}
		for _, n := range g {
			if seen[n] {
				v.bad(p.Line, "partition: node %s is in two groups", n)
			}
			seen[n] = true
			v.node(p.Line, n, "partition")
		}
	}
}

// kinds lists which kinds of expectation are set.
func (e *Expect) kinds() []string {
	var k []string
	if e.VIP != "" {
		k = append(k, "vip")
	}
	if e.Traffic != "" {
		k = append(k, "traffic")
	}
	if e.Log != nil {
		k = append(k, "log")
	}
	if e.State != nil {
		k = append(k, "state")
	}
	if e.Trace != nil {
		k = append(k, "trace")
	}
	if e.NoTrace != nil {
		k = append(k, "no_trace")
	}
	return k
}

// Kind is the expectation's kind: vip, traffic, log, state, trace or no_trace.
func (e *Expect) Kind() string {
	if k := e.kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

func (e *Expect) hasTrafficChecks() bool {
	return e.MaxFailures != nil || e.LongestOutageUnder != 0 || e.MinSuccessRatio != nil || e.Spread != nil ||
		e.Sticky != "" || e.SetCookie != "" || e.Headers != nil || e.ClientAddrSeen || e.Status != 0 || e.Apps != nil
}

func (v *validator) expect(line int, e *Expect, wait bool) {
	what := "expect"
	if wait {
		what = "wait"
	}
	kinds := e.kinds()
	if len(kinds) != 1 {
		if len(kinds) == 0 {
			v.bad(line, "%s: say what to check: vip, traffic, log, state, trace or no_trace", what)
		} else {
			v.bad(line, "%s: one check per step, not %s", what, strings.Join(kinds, " and "))
		}
		return
	}
	if e.Kind() != "traffic" && e.hasTrafficChecks() {
		v.bad(line, "%s: max_failures, longest_outage_under, min_success_ratio, spread, sticky, set_cookie, headers, client_addr_seen, status and apps apply to traffic", what)
	}
	if e.Kind() != "vip" && (e.Holder != "" || e.OneHolder || e.SplitBrain) {
		v.bad(line, "%s: holder, one_holder and split_brain apply to vip", what)
	}
	if e.Since != "" && e.Since != "start" && e.Since != "last_fault" {
		v.bad(line, "%s: since %q: want start or last_fault", what, e.Since)
	}
	if wait && e.Within == 0 && e.Kind() != "traffic" {
		v.bad(line, "wait: no timeout: set within")
	}
	switch e.Kind() {
	case "vip":
		if _, err := netip.ParseAddr(e.VIP); err != nil {
			v.bad(line, "%s: vip %q is not an IP address", what, e.VIP)
		}
		n := 0
		for _, b := range []bool{e.Holder != "", e.OneHolder, e.SplitBrain} {
			if b {
				n++
			}
		}
		if n != 1 {
			v.bad(line, "%s: vip: set one of holder, one_holder or split_brain", what)
		}
		if e.Holder != "" {
			v.node(line, e.Holder, what+" vip holder")
		}
	case "traffic":
		if v.traffic[e.Traffic] == 0 {
			v.bad(line, "%s: no traffic step named %q before this step", what, e.Traffic)
		}
		if wait && e.hasTrafficChecks() {
			v.bad(line, "wait: traffic waits for the traffic to end; put checks in an expect step")
		}
		if !wait && !e.hasTrafficChecks() {
			v.bad(line, "expect: traffic %s: no check (max_failures, longest_outage_under, min_success_ratio, spread, sticky, set_cookie, headers, client_addr_seen, status, apps)", e.Traffic)
		}
		v.trafficChecks(line, e)
	case "log":
		l := e.Log
		if (l.Daemon == "") == (l.File == "") {
			v.bad(line, "%s: log: name either a daemon or a file", what)
		} else if l.Daemon != "" {
			v.daemonRef(line, l.Node, l.Daemon, what+" log")
		} else {
			v.node(line, l.Node, what+" log")
			if !filepath.IsAbs(l.File) {
				v.bad(line, "%s: log file %q must be an absolute path in the node", what, l.File)
			}
		}
		v.regex(line, what+" log match", l.Match, true)
	case "state":
		st := e.State
		if v.node(line, st.Node, what+" state") && !v.hasKind(st.Node, KindKeepalived) {
			v.bad(line, "%s: state: node %s runs no keepalived daemon", what, st.Node)
		}
		if !vrrpState[st.Is] {
			v.bad(line, "%s: state %q: want MASTER, BACKUP or FAULT", what, st.Is)
		}
	case "trace":
		if len(e.Trace) == 0 {
			v.bad(line, "%s: trace: empty sequence", what)
		}
		for i := range e.Trace {
			v.pattern(&e.Trace[i], what)
		}
	case "no_trace":
		v.pattern(e.NoTrace, what)
	}
}

func (v *validator) hasKind(node, kind string) bool {
	for _, d := range v.s.Daemons {
		if d.Node == node && d.Kind == kind {
			return true
		}
	}
	return false
}

func (v *validator) regex(line int, what, re string, required bool) {
	if re == "" {
		if required {
			v.bad(line, "%s: empty pattern", what)
		}
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		v.bad(line, "%s: bad regular expression %q: %v", what, re, err)
	}
}

func (v *validator) trafficChecks(line int, e *Expect) {
	if e.MaxFailures != nil && *e.MaxFailures < 0 {
		v.bad(line, "expect: max_failures must be 0 or more")
	}
	if r := e.MinSuccessRatio; r != nil && (*r < 0 || *r > 1) {
		v.bad(line, "expect: min_success_ratio %g: want 0 to 1", *r)
	}
	if sp := e.Spread; sp != nil {
		if len(sp.Apps) < 2 {
			v.bad(line, "expect: spread: name at least two apps")
		}
		for _, a := range sp.Apps {
			v.node(line, a, "expect spread")
		}
		if sp.Tolerance <= 0 || sp.Tolerance > 1 {
			v.bad(line, "expect: spread: tolerance %g: want a fraction in (0, 1], such as 0.2", sp.Tolerance)
		}
	}
	if e.Sticky != "" && e.Sticky != "cookie" && e.Sticky != "client" {
		v.bad(line, "expect: sticky %q: want cookie or client", e.Sticky)
	}
	v.regex(line, "expect set_cookie", e.SetCookie, false)
	for h, re := range e.Headers {
		v.regex(line, "expect header "+h, re, true)
	}
	for _, a := range e.Apps {
		v.node(line, a, "expect apps")
	}
}

func (v *validator) pattern(p *TracePattern, what string) {
	line := p.Line
	if len(v.s.Capture) == 0 {
		v.bad(line, "%s: trace expectations need captures: add capture: [NODE:IFACE, ...]", what)
	}
	n := 0
	for _, b := range []bool{p.VRRP, p.GARP != "", p.TCP != ""} {
		if b {
			n++
		}
	}
	if n != 1 {
		v.bad(line, "%s: trace pattern: set one of vrrp, garp or tcp", what)
	}
	if p.GARP != "" {
		if _, err := netip.ParseAddr(p.GARP); err != nil {
			v.bad(line, "%s: garp %q is not an IP address", what, p.GARP)
		}
	}
	if p.TCP != "" && !tcpFlagRe.MatchString(p.TCP) {
		v.bad(line, "%s: tcp flags %q: want letters of SAFRPU, such as S or SA", what, p.TCP)
	}
	if p.Priority != nil && (*p.Priority < 0 || *p.Priority > 255) {
		v.bad(line, "%s: priority %d: want 0 to 255", what, *p.Priority)
	}
	if (p.Priority != nil || p.VRID != 0) && !p.VRRP {
		v.bad(line, "%s: priority and vrid apply to vrrp patterns", what)
	}
	if p.VRID < 0 || p.VRID > 255 {
		v.bad(line, "%s: vrid %d: want 1 to 255", what, p.VRID)
	}
	for _, a := range []string{p.From, p.To} {
		if a == "" {
			continue
		}
		if _, err := netip.ParseAddr(a); err != nil {
			if _, ok := v.nodes[a]; !ok {
				v.bad(line, "%s: %q is neither a node nor an IP address", what, a)
			}
		}
	}
	if p.Port < 0 || p.Port > 65535 {
		v.bad(line, "%s: port %d out of range", what, p.Port)
	}
	if p.On != "" {
		node, iface, _ := strings.Cut(p.On, ":")
		key := node
		if iface != "" {
			key = node + ":" + iface
		}
		if !v.captured[key] {
			v.bad(line, "%s: on %s: not captured (capture: %s)", what, p.On, captureList(v.s.Capture))
		}
	}
}

func captureList(cs []CaptureSpec) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Node+":"+c.Iface)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
