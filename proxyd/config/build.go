package config

import (
	"fmt"
	"path/filepath"

	"halab/proxyd/nginxconf"
)

// context bits: where a directive may appear.
type ctxMask uint16

const (
	ctxMain ctxMask = 1 << iota
	ctxEvents
	ctxHTTP
	ctxServer
	ctxLocation
	ctxUpstream
)

const ctxHSL = ctxHTTP | ctxServer | ctxLocation

// frame is the block being read.
type frame struct {
	ctx    ctxMask
	scope  *scope
	server *Server
	loc    *Location
	lb     *locBuild
	up     *Upstream
	seen   map[string]bool // directives that may appear once per block
	parent *frame
}

// Options tell Load where things are.
type Options struct {
	// Prefix is nginx's -p prefix: relative paths (pid, logs) are resolved
	// against it. Default "/usr/share/nginx/".
	Prefix string
	// Resolve looks up upstream host names; nil uses the system resolver.
	Resolve Resolver
	// Extra are directives given with -g, applied to the main context.
	Extra []*nginxconf.Directive
}

// Load reads the configuration file at path and every file it includes,
// then validates it.
func Load(path string, opts Options) (*Config, error) {
	tree, err := nginxconf.ParseFile(path)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	return Build(abs, append(tree, opts.Extra...), opts)
}

// builder turns a directive tree into a Config.
type builder struct {
	cfg       *Config
	opts      Options
	httpScope *scope
	servers   []*serverBuild
	passes    []*pendingPass
	upOrder   []*Upstream
}

type serverBuild struct {
	srv   *Server
	scope *scope
	locs  []*locBuild
}

type locBuild struct {
	loc   *Location
	scope *scope
	locs  []*locBuild
}

type pendingPass struct {
	d  *nginxconf.Directive
	pp *ProxyPass
	in *Location
}

// Build validates a directive tree whose main file is file.
func Build(file string, tree []*nginxconf.Directive, opts Options) (*Config, error) {
	if opts.Prefix == "" {
		opts.Prefix = "/usr/share/nginx/"
	}
	if opts.Resolve == nil {
		opts.Resolve = systemResolver{}
	}
	b := &builder{
		cfg: &Config{
			File:     file,
			Prefix:   opts.Prefix,
			Daemon:   true,
			PID:      "/run/nginx.pid",
			ErrorLog: "stderr",
			// nginx's default
			WorkerProcesses: "1",
		},
		opts: opts,
	}
	root := &frame{ctx: ctxMain, seen: map[string]bool{}}
	if err := b.block(tree, root); err != nil {
		return nil, err
	}
	if !root.seen["events"] {
		return nil, &nginxconf.Error{Msg: "no \"events\" section in configuration"}
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.cfg, nil
}

// block processes the directives of one block in order.
func (b *builder) block(list []*nginxconf.Directive, f *frame) error {
	for _, d := range list {
		if err := b.directive(d, f); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) directive(d *nginxconf.Directive, f *frame) error {
	sp, ok := specs[d.Name]
	if !ok {
		return d.Errorf(`unknown directive "%s"`, d.Name)
	}
	if sp.ctx&f.ctx == 0 {
		return d.Errorf(`"%s" directive is not allowed here`, d.Name)
	}
	if sp.anyBlock {
		return sp.fn(b, d, f)
	}
	if !sp.block && d.IsBlock {
		return d.Errorf(`directive "%s" is not terminated by ";"`, d.Name)
	}
	if sp.block && !d.IsBlock {
		return d.Errorf(`directive "%s" has no opening "{"`, d.Name)
	}
	n := len(d.Args)
	if n < sp.min || (sp.max >= 0 && n > sp.max) {
		return d.Errorf(`invalid number of arguments in "%s" directive`, d.Name)
	}
	if sp.once {
		if f.seen[d.Name] {
			return d.Errorf(`"%s" directive is duplicate`, d.Name)
		}
	}
	f.seen[d.Name] = true
	if sp.flag {
		if _, ok := parseFlag(d.Args[0]); !ok {
			return d.Errorf(`invalid value "%s" in "%s" directive, it must be "on" or "off"`, d.Args[0], d.Name)
		}
	}
	if sp.fn == nil {
		return nil
	}
	return sp.fn(b, d, f)
}

// path resolves a file name against the prefix, as nginx does for logs and
// the pid file.
func (b *builder) path(p string) string {
	if filepath.IsAbs(p) || p == "stderr" {
		return p
	}
	return filepath.Join(b.opts.Prefix, p)
}

func invalidValue(d *nginxconf.Directive, v string) error {
	return d.Errorf(`invalid value "%s"`, v)
}

func dupError(d *nginxconf.Directive) error {
	return d.Errorf(`"%s" directive is duplicate`, d.Name)
}

// checkVars rejects unknown variables the way nginx does, without a
// location.
func checkVars(s string) error {
	t, err := ParseTemplate(s)
	if err != nil {
		return err
	}
	for _, seg := range t {
		if seg.Var != "" && !KnownVariable(seg.Var) {
			return fmt.Errorf(`unknown "%s" variable`, seg.Var)
		}
	}
	return nil
}
