package config

import (
	"strconv"
	"strings"
	"time"

	"halab/proxyd/nginxconf"
)

type timeDur = time.Duration

func (b *builder) daemon(d *nginxconf.Directive, _ *frame) error {
	b.cfg.Daemon, _ = parseFlag(d.Args[0])
	return nil
}

func (b *builder) pid(d *nginxconf.Directive, _ *frame) error {
	if d.Args[0] == "off" {
		b.cfg.PID = ""
		return nil
	}
	b.cfg.PID = b.path(d.Args[0])
	return nil
}

func (b *builder) user(d *nginxconf.Directive, _ *frame) error {
	b.cfg.User = d.Args[0]
	return nil
}

func (b *builder) workerProcesses(d *nginxconf.Directive, _ *frame) error {
	v := d.Args[0]
	if v != "auto" {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return d.Errorf(`invalid value "%s" in "worker_processes" directive`, v)
		}
	}
	b.cfg.WorkerProcesses = v
	return nil
}

var logLevels = map[string]bool{
	"debug": true, "info": true, "notice": true, "warn": true,
	"error": true, "crit": true, "alert": true, "emerg": true,
}

// errorLog accepts "error_log FILE [LEVEL]"; only the main context's
// value is used, for the daemon's own log.
func (b *builder) errorLog(d *nginxconf.Directive, f *frame) error {
	level := "error"
	if len(d.Args) == 2 {
		if !logLevels[d.Args[1]] {
			return d.Errorf(`invalid log level "%s"`, d.Args[1])
		}
		level = d.Args[1]
	}
	if f.ctx == ctxMain {
		b.cfg.ErrorLog = b.path(d.Args[0])
		if strings.HasPrefix(d.Args[0], "syslog:") || d.Args[0] == "stderr" {
			b.cfg.ErrorLog = d.Args[0]
		}
		b.cfg.ErrorLogLevel = level
	}
	return nil
}

func (b *builder) events(d *nginxconf.Directive, f *frame) error {
	b.cfg.Events.WorkerConnections = 512
	return b.block(d.Block, &frame{ctx: ctxEvents, seen: map[string]bool{}, parent: f})
}

func (b *builder) workerConnections(d *nginxconf.Directive, _ *frame) error {
	n, err := strconv.Atoi(d.Args[0])
	if err != nil || n < 0 {
		return d.Errorf(`invalid number "%s"`, d.Args[0])
	}
	b.cfg.Events.WorkerConnections = n
	return nil
}

func (b *builder) http(d *nginxconf.Directive, f *frame) error {
	b.cfg.HTTP = &HTTP{
		LogFormats: map[string]*LogFormat{"combined": combined()},
		Upstreams:  map[string]*Upstream{},
	}
	b.httpScope = &scope{}
	return b.block(d.Block, &frame{ctx: ctxHTTP, scope: b.httpScope, seen: map[string]bool{}, parent: f})
}

// types reads a MIME types block: "TYPE EXT...;" lines. Like nginx, a
// types block replaces the inherited map; several blocks in one level add
// up.
func (b *builder) types(d *nginxconf.Directive, f *frame) error {
	if f.scope.types == nil {
		f.scope.types = map[string]string{}
	}
	for _, t := range d.Block {
		if t.IsBlock {
			return t.Errorf(`unexpected "{"`)
		}
		if len(t.Args) == 0 {
			return t.Errorf(`invalid number of arguments in "types" directive`)
		}
		for _, ext := range t.Args {
			ext = strings.ToLower(ext)
			if _, dup := f.scope.types[ext]; !dup {
				f.scope.types[ext] = t.Name
			}
		}
	}
	return nil
}

func setBoolField(dst **bool, d *nginxconf.Directive) error {
	v, _ := parseFlag(d.Args[0])
	*dst = &v
	return nil
}

// timeoutField returns a handler storing a time value into a scope field.
func timeoutField(field func(*scope) **timeDur) func(*builder, *nginxconf.Directive, *frame) error {
	return func(_ *builder, d *nginxconf.Directive, f *frame) error {
		v, ok := parseTime(d.Args[0])
		if !ok {
			return d.Errorf(`"%s" directive invalid value`, d.Name)
		}
		*field(f.scope) = &v
		return nil
	}
}

func (b *builder) keepaliveTimeout(d *nginxconf.Directive, f *frame) error {
	v, ok := parseTime(d.Args[0])
	if !ok {
		return d.Errorf(`invalid value "%s"`, d.Args[0])
	}
	f.scope.keepaliveTimeout = &v
	return nil
}

func (b *builder) keepaliveRequests(d *nginxconf.Directive, f *frame) error {
	n, err := strconv.Atoi(d.Args[0])
	if err != nil || n < 0 {
		return d.Errorf(`invalid number "%s"`, d.Args[0])
	}
	f.scope.keepaliveRequests = &n
	return nil
}

func (b *builder) clientMaxBodySize(d *nginxconf.Directive, f *frame) error {
	n, ok := parseSize(d.Args[0])
	if !ok {
		return d.Errorf(`"%s" directive invalid value`, d.Name)
	}
	f.scope.clientMaxBody = &n
	return nil
}
