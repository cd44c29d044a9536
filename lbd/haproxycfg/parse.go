package haproxycfg

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source is one configuration file: its name (as printed in messages) and
// its contents.
type Source struct {
	Name string
	Data []byte
}

// LoadFiles reads the named files or directories (as haproxy's repeated
// -f), parses them as one configuration and resolves server names.
func LoadFiles(names []string) (*Config, error) {
	srcs := make([]Source, 0, len(names))
	var files []string
	for _, n := range names {
		// A directory stands for the *.cfg files it holds, in name
		// order, as with haproxy.
		if st, err := os.Stat(n); err == nil && st.IsDir() {
			matches, _ := filepath.Glob(filepath.Join(n, "*.cfg"))
			sort.Strings(matches)
			files = append(files, matches...)
			continue
		}
		files = append(files, n)
	}
	for _, n := range files {
		data, err := os.ReadFile(n)
		if err != nil {
			reason := err.Error()
			var pe *os.PathError
			if errors.As(err, &pe) {
				reason = pe.Err.Error()
			}
			if reason != "" {
				reason = strings.ToUpper(reason[:1]) + reason[1:]
			}
			return nil, Alerts{{Msg: fmt.Sprintf("Cannot open configuration file/directory %s : %s", n, reason)}}
		}
		srcs = append(srcs, Source{Name: n, Data: data})
	}
	cfg, err := Parse(srcs, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if err := cfg.Resolve(net.LookupHost); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse reads the sources in order and returns the validated model. On
// failure the error is an Alerts value listing every problem found.
func Parse(srcs []Source, env func(string) (string, bool)) (*Config, error) {
	p := &parser{cfg: &Config{}, names: map[string]*Proxy{}}
	p.defaults = newDefaults()
	for _, src := range srcs {
		secs, alerts := ReadSections(src.Name, src.Data, env)
		p.alerts = append(p.alerts, alerts...)
		for _, s := range secs {
			p.section(s)
		}
	}
	if len(p.alerts) == 0 {
		p.validate()
	}
	if len(p.alerts) > 0 {
		return nil, p.alerts
	}
	return p.cfg, nil
}

type parser struct {
	cfg      *Config
	defaults *Proxy
	names    map[string]*Proxy
	alerts   Alerts
}

func (p *parser) alert(pos Pos, format string, args ...any) {
	p.alerts = append(p.alerts, alertf(pos, format, args...))
}

func (p *parser) warn(pos Pos, format string, args ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// newDefaults returns HAProxy's built-in defaults.
func newDefaults() *Proxy {
	return &Proxy{
		Mode:    ModeTCP,
		Retries: 3,
		Balance: Balance{Algo: "roundrobin"},
	}
}

func (p *parser) section(s *Section) {
	switch s.Kind {
	case "global":
		p.global(s)
	case "defaults":
		d := newDefaults()
		d.Name = s.Name
		d.Pos = s.Pos
		for _, l := range s.Lines {
			p.proxyLine(d, l, true)
		}
		p.defaults = d
	case "frontend", "backend", "listen":
		p.proxy(s)
	default:
		p.warn(s.Pos, "section '%s' is not supported by lbd and is ignored.", s.Kind)
	}
}

func (p *parser) global(s *Section) {
	g := &p.cfg.Global
	g.Pos = s.Pos
	for _, l := range s.Lines {
		w := l.Words
		switch w[0] {
		case "pidfile":
			if len(w) < 2 {
				p.alert(l.Pos, "'%s' expects a file name as an argument.", w[0])
				continue
			}
			g.PIDFile = w[1]
		case "daemon":
			g.Daemon = true
		case "maxconn":
			g.MaxConn = p.intArg(l, 1, 0)
		case "nbthread":
			g.NbThread = p.intArg(l, 1, 1)
		case "stats":
			g.Stats = append(g.Stats, joinWords(w[1:]))
		case "log":
			if t, ok := p.logTarget(l); ok {
				g.Logs = append(g.Logs, t)
			}
		case "log-tag":
			if len(w) > 1 {
				g.LogTag = w[1]
			}
		case "chroot", "user", "group", "uid", "gid", "ulimit-n", "node",
			"description", "ca-base", "crt-base", "ssl-default-bind-ciphers",
			"ssl-default-bind-ciphersuites", "ssl-default-bind-options",
			"ssl-default-server-ciphers", "ssl-default-server-options",
			"ssl-default-server-ciphersuites", "tune.ssl.default-dh-param",
			"tune.bufsize", "tune.maxrewrite", "spread-checks", "master-worker",
			"nbproc", "cpu-map", "log-send-hostname", "hard-stop-after",
			"expose-experimental-directives", "quiet", "localpeer", "server-state-file",
			"server-state-base", "setenv", "presetenv", "unsetenv", "resetenv", "lua-load",
			"strict-limits", "default-path", "zero-warning", "pidfile-mode", "external-check",
			"insecure-fork-wanted", "insecure-setuid-wanted", "log-send-hostname-tag", "maxconnrate",
			"maxsessrate", "maxpipes", "noepoll", "nopoll", "nosplice", "nogetaddrinfo", "noreuseport",
			"profiling.tasks", "set-dumpable", "ssl-server-verify", "stats-file", "busy-polling",
			"max-spread-checks", "h1-case-adjust", "h1-case-adjust-file", "grace", "numa-cpu-mapping",
			"localpeer-name", "ssl-load-extra-files", "httpclient.resolvers.prefer", "thread-groups":
			// Accepted; lbd has no use for them (see DIFFERENCES.md).
		default:
			if strings.HasPrefix(w[0], "tune.") {
				// Tuning knobs: accepted, no effect in lbd.
				continue
			}
			p.alert(l.Pos, "unknown keyword '%s' in 'global' section", w[0])
		}
	}
}

func (p *parser) proxy(s *Section) {
	cap := map[string]Cap{"frontend": CapFrontend, "backend": CapBackend, "listen": CapListen}[s.Kind]
	if s.Name == "" {
		p.alert(s.Pos, "'%s' expects <name> as an argument.", s.Kind)
		return
	}
	if prev, ok := p.names[s.Name]; ok && (prev.Cap&cap) != 0 {
		p.alerts = append(p.alerts, &Alert{Pos: s.Pos, Msg: fmt.Sprintf("%s '%s' has the same name as %s '%s' declared at %s.",
			s.Kind, s.Name, prev.Kind(), prev.Name, prev.Pos)})
		return
	}
	px := p.inherit(cap, s)
	p.names[s.Name] = px
	p.cfg.Proxies = append(p.cfg.Proxies, px)
	if len(s.Args) > 0 {
		// Legacy "frontend NAME ADDR[,ADDR]" and "listen NAME ADDR": HAProxy
		// 2.x refuses it; lbd accepts it (DIFFERENCES.md).
		if cap&CapFrontend == 0 {
			p.alert(s.Pos, "'%s' does not take a listening address.", s.Kind)
		} else {
			p.bindAddrs(px, s.Pos, s.Args[0])
			p.warn(s.Pos, "legacy listening address on the '%s' line; HAProxy 2.6 wants 'bind'.", s.Kind)
		}
	}
	for _, l := range s.Lines {
		p.proxyLine(px, l, false)
	}
}

// inherit builds a new proxy from the current defaults section.
func (p *parser) inherit(cap Cap, s *Section) *Proxy {
	d := p.defaults
	px := &Proxy{
		Cap: cap, Name: s.Name, Pos: s.Pos, Mode: d.Mode,
		Retries: d.Retries, Timeouts: d.Timeouts, Redispatch: d.Redispatch,
		TCPCheck: d.TCPCheck, HTTPLog: d.HTTPLog, DontLogNull: d.DontLogNull,
		HTTPServerClose: d.HTTPServerClose, HTTPKeepAlive: d.HTTPKeepAlive, TCPLog: d.TCPLog,
		ClientTCPKA: d.ClientTCPKA, ServerTCPKA: d.ServerTCPKA, HTTPReuse: d.HTTPReuse,
		LogGlobal: d.LogGlobal, Logs: append([]LogTarget(nil), d.Logs...),
		SmartAccept: d.SmartAccept,
	}
	if cap&CapFrontend != 0 {
		px.DefaultBackend, px.DefaultPos = d.DefaultBackend, d.DefaultPos
		if d.ForwardFor != nil {
			ff := *d.ForwardFor
			px.ForwardFor = &ff
		}
		if d.Stats != nil {
			st := *d.Stats
			px.Stats = &st
		}
	}
	if cap&CapBackend != 0 {
		px.Balance = d.Balance
		if d.Cookie != nil {
			c := *d.Cookie
			px.Cookie = &c
		}
		if d.HTTPCheck != nil {
			hc := *d.HTTPCheck
			px.HTTPCheck = &hc
		}
		if cap == CapBackend && d.ForwardFor != nil {
			ff := *d.ForwardFor
			px.ForwardFor = &ff
		}
	}
	return px
}

func (p *parser) intArg(l Line, i, min int) int {
	if len(l.Words) <= i {
		p.alert(l.Pos, "'%s' expects an integer argument.", l.Words[0])
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(l.Words[i], "%d", &n); err != nil || fmt.Sprint(n) != l.Words[i] || n < min {
		p.alert(l.Pos, "'%s' expects an integer argument.", l.Words[0])
		return 0
	}
	return n
}

func (p *parser) timeArg(l Line, i int, what string) time.Duration {
	if len(l.Words) <= i {
		p.alert(l.Pos, "'%s' expects an integer value (in milliseconds)", what)
		return 0
	}
	d, err := parseTime(l.Words[i])
	if err != nil {
		p.alert(l.Pos, "%v in '%s'", err, what)
		return 0
	}
	return d
}

func joinWords(w []string) string {
	s := ""
	for i, x := range w {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}
