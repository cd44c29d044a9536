package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"halab/faults"
	"halab/lab"
	"halab/lab/capture"
	"halab/scenarios/traffic"
)

// Options configure runs.
type Options struct {
	// BinDir holds our binaries (vrrpd, proxyd, lbd, labapp). It must be
	// visible in the nodes: not under /tmp, /run or /var/log.
	BinDir string
	// ArtifactDir, when set, receives one directory per run with the
	// daemons' logs and the packet traces.
	ArtifactDir string
	// Keep leaves the lab up after a failed run, for inspection.
	Keep bool
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// LabPrefix starts the unique lab names (default "sc").
	LabPrefix string
	// LabName, when set, is the lab's name instead of a unique one (for
	// `lab up SCENARIO`, where the lab keeps its topology's name).
	LabName string
	// KeepUp leaves the lab and its daemons up after the run, whatever its
	// outcome: the run brings an architecture up.
	KeepUp bool
	// Observer, when set, watches each run live (`lab run --ui`).
	Observer Observer
	Logger   *slog.Logger
}

// Observer watches runs as they happen. Its methods are called from the
// runner's goroutine and must not block for long.
type Observer interface {
	// LabUp is called once a run's lab is up and its daemons started,
	// with the fault engine its steps use.
	LabUp(ctx context.Context, l *lab.Lab, eng *faults.Engine)
	// Event is called for each timeline event of the run.
	Event(Event)
	// Traffic is called when a traffic step starts recording.
	Traffic(*traffic.Recording)
	// LabDown is called before the run's lab goes down (or is left up).
	LabDown()
}

// run is the state of one scenario run.
type run struct {
	s         *Scenario
	impl      string
	opt       Options
	l         *lab.Lab
	eng       *faults.Engine
	ds        *daemonSet
	mon       *monitor
	captures  *capture.Group
	traffic   map[string]*traffic.Recording
	trafficWG sync.WaitGroup
	lastFault time.Time
	observed  bool // the observer was told the lab is up
	events    []Event
	res       *Result
}

// Run runs a scenario on an implementation in a lab of its own, torn down
// on success, failure, timeout and cancellation (unless Options.Keep and
// the run failed). Problems are reported in the Result, never as panics.
func Run(ctx context.Context, s *Scenario, impl string, opt Options) *Result {
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	if opt.LabPrefix == "" {
		opt.LabPrefix = "sc"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res := &Result{Scenario: s.Name, Description: s.Description, File: s.File, Impl: impl, Start: time.Now()}
	defer func() { res.Duration = time.Since(res.Start) }()
	if reason := naReason(s, impl); reason != "" {
		res.Status, res.Reason = StatusNA, reason
		fmt.Fprintf(opt.Progress, "=== %s [%s]: n/a: %s\n", s.Name, impl, reason)
		return res
	}
	r := &run{s: s, impl: impl, opt: opt, res: res, traffic: map[string]*traffic.Recording{}}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	r.execute(ctx)
	r.finish()
	return res
}

// listeners are the nodes expected to listen on TCP once up: those with
// run entries (labapp) or a proxy daemon.
func listeners(s *Scenario) []string {
	var out []string
	for _, n := range s.Topology.Nodes {
		listen := len(n.Run) > 0
		for _, d := range s.Daemons {
			listen = listen || d.Node == n.Name && (d.Kind == KindNginx || d.Kind == KindHAProxy)
		}
		if listen {
			out = append(out, n.Name)
		}
	}
	return out
}

// uniqueLabName returns prefix plus random hex, within the lab's 16
// characters.
func uniqueLabName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	if len(prefix) > 10 {
		prefix = prefix[:10]
	}
	return prefix + hex.EncodeToString(b)
}

func (r *run) progress(format string, args ...any) {
	fmt.Fprintf(r.opt.Progress, format+"\n", args...)
}

func (r *run) event(kind, format string, args ...any) {
	e := Event{Time: time.Now(), Kind: kind, Text: fmt.Sprintf(format, args...)}
	r.events = append(r.events, e)
	if r.opt.Observer != nil {
		r.opt.Observer.Event(e)
	}
}

// fail marks the run as an error before its steps could run.
func (r *run) fail(format string, args ...any) {
	r.res.Status = StatusError
	r.res.Reason = fmt.Sprintf(format, args...)
	r.event("fail", "%s", r.res.Reason)
	r.progress("    error: %s", r.res.Reason)
}

func (r *run) execute(ctx context.Context) {
	topo := *r.s.Topology
	topo.Name = uniqueLabName(r.opt.LabPrefix)
	if r.opt.LabName != "" {
		topo.Name = r.opt.LabName
	}
	r.res.Lab = topo.Name
	r.progress("=== %s [%s] lab %s", r.s.Name, r.impl, topo.Name)
	if r.opt.ArtifactDir != "" {
		r.res.ArtifactDir = filepath.Join(r.opt.ArtifactDir, safeName(r.s.Name)+"-"+r.impl)
		if err := os.MkdirAll(r.res.ArtifactDir, 0o755); err != nil {
			r.fail("artifact dir: %v", err)
			return
		}
	}
	opts := []lab.Option{lab.WithLogger(r.opt.Logger)}
	if r.opt.BinDir != "" {
		opts = append(opts, lab.WithBinDir(r.opt.BinDir))
	}
	up := time.Now()
	l, err := lab.Up(ctx, &topo, opts...)
	if err != nil {
		r.fail("lab up: %v", err)
		return
	}
	r.l = l
	r.progress("    lab up (%d nodes, %s)", len(topo.Nodes), time.Since(up).Round(time.Millisecond))
	r.eng = faults.New(l)
	if r.ds, err = prepareDaemons(r.s, l, r.eng, r.impl, r.opt.BinDir); err != nil {
		r.fail("daemons: %v", err)
		return
	}
	r.mon = newMonitor(l, r.eng, r.s, r.impl)
	if len(r.s.Capture) > 0 {
		if err := r.startCaptures(ctx); err != nil {
			r.fail("captures: %v", err)
			return
		}
	}
	if err := r.ds.startAll(ctx, r.s.Daemons); err != nil {
		r.fail("%v", err)
		return
	}
	if len(r.s.Daemons) > 0 {
		r.progress("    %d daemon(s) started (%s)", len(r.s.Daemons), r.impl)
	}
	waitListening(ctx, l, listeners(r.s), 5*time.Second)
	if r.opt.Observer != nil {
		r.opt.Observer.LabUp(ctx, l, r.eng)
		r.observed = true
	}
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		r.mon.run(monCtx)
	}()
	defer func() {
		stopMon()
		<-monDone
		r.mon.sample()
	}()
	r.steps(ctx)
}

func (r *run) startCaptures(ctx context.Context) error {
	var specs []capture.Spec
	for _, c := range r.s.Capture {
		sp := capture.Spec{Node: c.Node, Iface: c.Iface, NetNS: r.l.MustNode(c.Node).NetNSPath(), Snaplen: 256, Logger: r.opt.Logger}
		if r.res.ArtifactDir != "" {
			name := fmt.Sprintf("%s-%s.pcap", c.Node, c.Iface)
			sp.PcapPath = filepath.Join(r.res.ArtifactDir, name)
			r.res.Traces = append(r.res.Traces, name)
		}
		specs = append(specs, sp)
	}
	// The captures live until finish stops them, beyond ctx.
	g, err := capture.StartGroup(context.WithoutCancel(ctx), specs)
	if err != nil {
		return err
	}
	r.captures = g
	return nil
}

// steps runs the steps in order. A failed expectation does not stop the
// run; a failed wait or fault does (later steps depend on it).
func (r *run) steps(ctx context.Context) {
	n := len(r.s.Steps)
	stopped := ""
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer func() {
		stopTraffic()
		r.trafficWG.Wait()
	}()
	for i := range r.s.Steps {
		st := &r.s.Steps[i]
		sr := StepResult{Index: i + 1, Line: st.Line, Action: st.Action(), Desc: st.Describe(), Start: time.Now()}
		switch {
		case stopped != "":
			sr.Status, sr.Message = StatusSkipped, stopped
		case st.NA[r.impl] != "":
			sr.Status, sr.Message = StatusSkipped, "n/a for "+r.impl+": "+st.NA[r.impl]
		case ctx.Err() != nil:
			stopped = r.interruption(ctx)
			sr.Status, sr.Message = StatusError, stopped
		default:
			r.event(stepKind(st), "%s", sr.Desc)
			if st.IsFault() {
				r.lastFault = sr.Start
			}
			sr.Status, sr.Message = r.step(ctx, trafficCtx, st)
			if ctx.Err() != nil && sr.Status != StatusPass {
				sr.Status, sr.Message = StatusError, r.interruption(ctx)+": "+sr.Message
			}
		}
		sr.Duration = time.Since(sr.Start)
		r.res.Steps = append(r.res.Steps, sr)
		r.progress("    %d/%d %s: %s (%s)%s", i+1, n, sr.Desc, sr.Status, sr.Duration.Round(time.Millisecond), indentMsg(sr.Message))
		if sr.Status == StatusFail || sr.Status == StatusError {
			r.event("fail", "step %d (line %d) %s: %s", sr.Index, sr.Line, sr.Desc, sr.Message)
			if stopped == "" && (sr.Status == StatusError || st.Wait != nil) {
				stopped = fmt.Sprintf("not run: step %d (line %d) failed", sr.Index, sr.Line)
			}
		}
	}
}

func stepKind(st *Step) string {
	if st.IsFault() {
		return "fault"
	}
	return "step"
}

func (r *run) interruption(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("scenario timeout (%s) reached", r.s.Timeout)
	}
	return "interrupted"
}

func indentMsg(m string) string {
	if m == "" {
		return ""
	}
	return "\n        " + strings.ReplaceAll(m, "\n", "\n        ")
}

// step carries out one step and returns its status and message.
func (r *run) step(ctx, trafficCtx context.Context, st *Step) (Status, string) {
	if st.Expect != nil || st.Wait != nil {
		e, wait := st.Expect, false
		if e == nil {
			e, wait = st.Wait, true
		}
		if msgs := r.check(ctx, e, wait); len(msgs) > 0 {
			return StatusFail, strings.Join(msgs, "\n")
		}
		return StatusPass, ""
	}
	if err := r.action(ctx, trafficCtx, st); err != nil {
		return StatusError, err.Error()
	}
	return StatusPass, ""
}

// action carries out a traffic, fault or pause step.
func (r *run) action(ctx, trafficCtx context.Context, st *Step) error {
	switch {
	case st.Traffic != nil:
		r.startTraffic(trafficCtx, st.Traffic)
	case st.Pause > 0:
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(st.Pause):
		}
	case st.IsFault():
		return r.fault(ctx, st)
	}
	return nil
}

// startTraffic starts probes from a node in the background.
func (r *run) startTraffic(ctx context.Context, t *TrafficStep) {
	cfg := traffic.Config{Name: t.Name, From: t.From, URL: t.URL, Connect: t.Connect, Host: t.Host, Cookies: t.Cookies,
		KeepAlive: t.KeepAlive, Rate: t.Rate, Duration: t.Duration.D(), Count: t.Count, Timeout: t.Timeout.D()}
	kind, target := "http", t.URL
	if t.Connect != "" {
		kind, target = "tcp", t.Connect
	}
	rec := traffic.NewRecording(t.Name, t.From, kind, target)
	r.traffic[t.Name] = rec
	if r.opt.Observer != nil {
		r.opt.Observer.Traffic(rec)
	}
	n := r.l.MustNode(t.From)
	r.trafficWG.Add(1)
	go func() {
		defer r.trafficWG.Done()
		traffic.Run(ctx, cfg, nodeDialer(n), rec)
	}()
}

// nodeDialer opens connections inside a node's network namespace.
func nodeDialer(n *lab.Node) traffic.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Do(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// finish stops what runs, keeps logs and traces, decides the outcome and
// takes the lab down (unless kept).
func (r *run) finish() {
	res := r.res
	if r.captures != nil {
		if _, err := r.captures.Stop(); err != nil {
			r.event("info", "capture: %v", err)
		}
		r.writeTrace()
	}
	if r.observed {
		r.opt.Observer.LabDown()
	}
	if r.eng != nil && !r.opt.KeepUp {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.eng.StopAll(ctx)
		cancel()
	}
	if r.l != nil && res.ArtifactDir != "" {
		r.copyLogs()
	}
	if res.Status == "" {
		res.Status = StatusPass
		var failed []string
		for _, s := range res.Steps {
			if s.Status == StatusFail || s.Status == StatusError {
				res.Status = StatusFail
				failed = append(failed, fmt.Sprintf("step %d (line %d)", s.Index, s.Line))
			}
		}
		if len(failed) > 0 {
			res.Reason = "failed: " + strings.Join(failed, ", ")
		}
	}
	res.Timeline = Timeline{Start: res.Start, End: time.Now(), VIPs: watchedVIPs(r.s), Events: r.events}
	if r.mon != nil {
		res.Timeline.Nodes = r.mon.vrrpNodes()
		res.Timeline.Samples = r.mon.result()
	}
	for _, st := range r.s.Steps {
		if st.Traffic != nil && r.traffic[st.Traffic.Name] != nil {
			res.Timeline.Traffic = append(res.Timeline.Traffic, r.traffic[st.Traffic.Name])
		}
	}
	if r.l == nil {
		r.progress("--- %s %s [%s] %s", strings.ToUpper(string(res.Status)), r.s.Name, r.impl, time.Since(res.Start).Round(time.Millisecond))
		return
	}
	if r.opt.KeepUp {
		res.Kept = true
	} else if r.opt.Keep && res.Status != StatusPass {
		res.Kept = true
		r.progress("    lab %s left up for inspection: lab status %s; lab down %s", r.l.Name(), r.l.Name(), r.l.Name())
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := r.l.Down(ctx); err != nil {
			r.progress("    lab down %s: %v", r.l.Name(), err)
		}
		cancel()
	}
	r.progress("--- %s %s [%s] %s", strings.ToUpper(string(res.Status)), r.s.Name, r.impl, time.Since(res.Start).Round(time.Millisecond))
}

// copyLogs copies the logs of every node's processes into the artifact dir.
func (r *run) copyLogs() {
	src := filepath.Join(r.l.Dir(), "logs")
	_ = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(src, path)
		if copyFile(path, filepath.Join(r.res.ArtifactDir, "logs", rel), 0o644) == nil {
			r.res.Logs = append(r.res.Logs, filepath.Join("logs", rel))
		}
		return nil
	})
}

// writeTrace writes the merged text trace next to the pcap files.
func (r *run) writeTrace() {
	if r.res.ArtifactDir == "" {
		return
	}
	f, err := os.Create(filepath.Join(r.res.ArtifactDir, "trace.txt"))
	if err != nil {
		return
	}
	defer f.Close()
	if capture.WriteText(f, r.captures.Packets(), capture.Filter{}) == nil {
		r.res.Traces = append(r.res.Traces, "trace.txt")
	}
}

// safeName turns a scenario name into a file name.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '_'
	}, s)
}
