package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"halab/lab"
	"halab/lab/capture"
	"halab/lab/graph"
	"halab/reports"
	"halab/scenarios"
	"halab/scenarios/traffic"
)

//go:embed assets
var assets embed.FS

// DefaultListen is where `lab ui` listens unless told otherwise.
const DefaultListen = "127.0.0.1:7411"

// Options configure Serve.
type Options struct {
	// Listen is the address to listen on (default DefaultListen; port 0
	// picks a free port). Only loopback addresses are accepted unless
	// AllowRemote is set.
	Listen      string
	AllowRemote bool
	// Faults injects the page's actions; default NewEngine(lab).
	Faults Faults
	// Token is the bearer token actions need; default a random one.
	Token string
	// PollInterval is how often the lab is sampled (default 100 ms).
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Server is a running teaching view.
type Server struct {
	lab     labView
	node    func(string) (*lab.Node, error)
	opts    Options
	token   string
	url     string
	addr    net.Addr
	log     *slog.Logger
	faults  Faults
	hub     *hub
	rec     *recorder
	probe   *prober
	ticker  *ticker
	coll    *collector
	graph   []byte
	ctx     context.Context
	httpSrv *http.Server
	done    chan struct{}

	kick chan struct{} // asks the poller for a sample now

	mu    sync.Mutex
	state *State
	seq   uint64
}

// Serve starts the teaching view of l and returns once it listens; it
// serves until ctx ends. Print s.URL() (which carries the token in its
// fragment) for the user.
func Serve(ctx context.Context, l *lab.Lab, opts Options) (*Server, error) {
	if opts.Faults == nil {
		opts.Faults = NewEngine(l)
	}
	return serve(ctx, l, opts)
}

func serve(ctx context.Context, l labView, opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkListen(opts.Listen, opts.AllowRemote); err != nil {
		return nil, err
	}
	if opts.Token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("ui: token: %w", err)
		}
		opts.Token = hex.EncodeToString(b)
	}
	s := &Server{
		lab: l, node: l.Node, opts: opts, token: opts.Token, log: opts.Logger, faults: opts.Faults,
		hub: newHub(), rec: newRecorder(time.Now()), ticker: newTicker(l, opts.Logger),
		coll: newCollector(l), ctx: ctx, done: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	s.probe = &prober{results: s.onProbe}
	var g bytes.Buffer
	if err := graph.WriteSVG(&g, graph.Compute(l.Topology()), graph.SVGOptions{}); err != nil {
		return nil, err
	}
	s.graph = g.Bytes()
	s.setState(s.coll.sample())

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	s.addr = ln.Addr()
	s.url = "http://" + ln.Addr().String() + "/#token=" + s.token
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go s.poll(ctx)
	watchNetlink(ctx, l, s.kickPoll, s.log)
	go func() {
		<-ctx.Done()
		s.probe.stop()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.httpSrv.Shutdown(shut)
	}()
	go func() {
		defer close(s.done)
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ui: serve", "err", err)
		}
	}()
	s.AddEvent(Event{Kind: "info", Text: "teaching view of lab " + l.Name() + " started"})
	return s, nil
}

// checkListen refuses non-loopback addresses unless allowed.
func checkListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ui: listen %q: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("ui: refusing to listen on %q: not a loopback address (anyone who reaches it could watch the lab; use --allow-remote to insist)", addr)
	}
	return nil
}

// URL is the page's address with the token in its fragment.
func (s *Server) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Token is the bearer token actions need.
func (s *Server) Token() string { return s.token }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// State returns the latest sample.
func (s *Server) State() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Timeline returns the timeline so far, as the HTML report has it.
func (s *Server) Timeline() scenarios.Timeline { return s.rec.snapshot(time.Now()) }

// AddRecording puts a traffic source's requests on the timeline, as they
// come (a scenario's traffic under `lab run --ui`).
func (s *Server) AddRecording(rec *traffic.Recording) { s.rec.addRecording(rec) }

// AddEvent puts an event on the timeline and pushes it to the page; a
// scenario runner showing its run live calls it for its steps.
func (s *Server) AddEvent(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.rec.addEvents(e)
	s.hub.publish("event", e)
}

func (s *Server) onProbe(r ProbeResult) {
	s.rec.addRequest(r)
	s.hub.publish("probe", r)
}

// setState installs a new sample; it returns whether it differs from the
// previous one (timestamps aside).
func (s *Server) setState(st *State) bool {
	s.mu.Lock()
	prev := s.state
	if prev != nil && sameState(prev, st) {
		s.mu.Unlock()
		return false
	}
	s.seq++
	st.Seq = s.seq
	s.state = st
	s.mu.Unlock()
	s.rec.observe(st)
	s.hub.publish("state", st)
	for _, e := range diffStates(prev, st) {
		s.AddEvent(e)
	}
	return true
}

func sameState(a, b *State) bool {
	x, y := *a, *b
	x.Time, y.Time, x.Seq, y.Seq = time.Time{}, time.Time{}, 0, 0
	ja, err1 := json.Marshal(x)
	jb, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// kickPoll asks for a sample now (netlink saw a change).
func (s *Server) kickPoll() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// poll samples the lab every PollInterval, and at once when kicked, until
// ctx ends.
func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
			// Let a burst of updates (address, then route) settle.
			time.Sleep(5 * time.Millisecond)
		}
		s.setState(s.coll.sample())
	}
}

// Handler returns the HTTP handler of the API and the page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/state", s.handleState)
	mux.HandleFunc("GET /api/graph.svg", s.handleGraph)
	mux.HandleFunc("GET /api/timeline", s.handleTimeline)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("GET /api/packets", s.handlePackets)
	mux.HandleFunc("POST /api/action", s.authorized(s.handleAction))
	mux.HandleFunc("GET /api/probe", s.handleProbeResults)
	mux.HandleFunc("POST /api/probe", s.authorized(s.handleProbe))
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		h.ServeHTTP(w, r)
	})
}

// authorized requires the token as a bearer token or a token form field,
// compared in constant time.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got := ""
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = strings.TrimSpace(v)
		} else if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") ||
			strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			got = r.PostFormValue("token")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="halab"`)
			httpError(w, http.StatusUnauthorized, errors.New("missing or wrong token (printed by `lab ui` at start)"))
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	spec, running := s.probe.running()
	writeJSON(w, http.StatusOK, struct {
		*State
		Probe   *ProbeSpec        `json:"probe,omitempty"`
		Events  []Event           `json:"events"`
		Clients []string          `json:"clients"`
		Filters string            `json:"filter_help"`
		Colors  map[string]string `json:"state_colors"`
	}{State: s.State(), Probe: probeIf(spec, running), Events: s.rec.recentEvents(200),
		Clients: s.clientNodes(), Filters: capture.FilterHelp, Colors: reports.StateColors()})
}

func probeIf(spec ProbeSpec, running bool) *ProbeSpec {
	if !running {
		return nil
	}
	return &spec
}

// clientNodes are the nodes a probe may start from, clients first.
func (s *Server) clientNodes() []string {
	var first, rest []string
	for _, n := range s.lab.Topology().Nodes {
		if n.Role == "client" {
			first = append(first, n.Name)
		} else {
			rest = append(rest, n.Name)
		}
	}
	return append(first, rest...)
}

func (s *Server) handleGraph(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(s.graph)
}

func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = renderTimeline(w, s.rec)
}

// sse prepares a Server-Sent Events response.
func sse(w http.ResponseWriter) (http.Flusher, bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return fl, true
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	ch, unsubscribe := s.hub.subscribe()
	defer unsubscribe()
	fl, ok := sse(w)
	if !ok {
		return
	}
	// The current state first, so a (re)connected page is complete.
	if msg, err := sseMessage("state", s.State()); err == nil {
		_, _ = w.Write(msg)
	}
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		case <-keepalive.C:
			_, _ = w.Write([]byte(": keepalive\n\n"))
			fl.Flush()
		}
	}
}

func (s *Server) handlePackets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := capture.ParseFilter(q.Get("filter"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	sub := &packetSub{ch: make(chan PacketLine, 512), node: q.Get("node"), filter: f, sent: q.Get("sent") != "0"}
	unsubscribe, err := s.ticker.subscribe(s.ctx, sub)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	defer unsubscribe()
	fl, ok := sse(w)
	if !ok {
		return
	}
	fl.Flush()
	// Batch: at most one write per 100 ms keeps a busy trace cheap.
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	var batch []PacketLine
	for {
		select {
		case <-r.Context().Done():
			return
		case p := <-sub.ch:
			if len(batch) < 200 {
				batch = append(batch, p)
			}
		case <-flush.C:
			if len(batch) == 0 {
				continue
			}
			msg, err := sseMessage("packets", batch)
			batch = batch[:0]
			if err != nil {
				continue
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// decodeBody reads a JSON body or form fields into v's fields by their
// json names (flat string fields only for forms).
func decodeBody(r *http.Request, v any) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16)).Decode(v); err != nil {
			return fmt.Errorf("bad JSON body: %w", err)
		}
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	m := map[string]any{}
	for k := range r.PostForm {
		if k != "token" {
			m[k] = r.PostForm.Get(k)
		}
	}
	b, _ := json.Marshal(m)
	return json.Unmarshal(b, v)
}

func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	var a Action
	if err := decodeBody(r, &a); err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	if a.Kind == "" || a.Node == "" {
		httpError(w, http.StatusBadRequest, errors.New("need action and node"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	start := time.Now()
	err := s.faults.Apply(ctx, a)
	ev := Event{Time: start, Kind: "fault", Node: a.Node, Text: a.String()}
	if err != nil {
		ev.Text += " failed: " + err.Error()
	}
	s.AddEvent(ev)
	if err != nil {
		httpError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "event": ev})
}

// handleProbeResults returns the running probe (null when none) and the
// results of the last minute, for a page that just loaded.
func (s *Server) handleProbeResults(w http.ResponseWriter, r *http.Request) {
	spec, running := s.probe.running()
	recent := s.rec.requestsSince(time.Now().Add(-time.Minute))
	writeJSON(w, http.StatusOK, map[string]any{"probe": probeIf(spec, running), "results": recent})
}

// probeRequest is the body of POST /api/probe.
type probeRequest struct {
	Op   string  `json:"op"` // start or stop
	Node string  `json:"node"`
	URL  string  `json:"url"`
	Rate float64 `json:"rate,string"`
}

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	var pr probeRequest
	if err := decodeBody(r, &pr); err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	switch pr.Op {
	case "stop":
		if _, running := s.probe.running(); running {
			s.probe.stop()
			s.AddEvent(Event{Kind: "probe", Text: "probe stopped"})
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case "start":
		if pr.Node == "" {
			if cl := s.clientNodes(); len(cl) > 0 {
				pr.Node = cl[0]
			}
		}
		n, err := s.node(pr.Node)
		if err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		spec := ProbeSpec{Node: pr.Node, URL: pr.URL, Rate: pr.Rate}
		if err := s.probe.start(s.ctx, n, spec); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		s.AddEvent(Event{Kind: "probe", Node: pr.Node, Text: fmt.Sprintf("probe from %s to %s started", pr.Node, pr.URL)})
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	default:
		httpError(w, http.StatusBadRequest, errors.New(`op must be "start" or "stop"`))
	}
}
