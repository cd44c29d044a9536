package config

import (
	"net/netip"
	"strconv"
	"strings"

	"halab/proxyd/nginxconf"
)

// splitLocation returns the modifier and path of a location's arguments,
// accepting the glued forms nginx accepts ("=/x", "~*\.png$").
func splitLocation(d *nginxconf.Directive) (Modifier, string, error) {
	if len(d.Args) == 2 {
		switch m := Modifier(d.Args[0]); m {
		case Exact, NoRegex, Regex, RegexCaseless:
			return m, d.Args[1], nil
		}
		return "", "", d.Errorf(`invalid location modifier "%s"`, d.Args[0])
	}
	a := d.Args[0]
	switch {
	case strings.HasPrefix(a, "=") && len(a) > 1:
		return Exact, a[1:], nil
	case strings.HasPrefix(a, "^~") && len(a) > 2:
		return NoRegex, a[2:], nil
	case strings.HasPrefix(a, "~*") && len(a) > 2:
		return RegexCaseless, a[2:], nil
	case strings.HasPrefix(a, "~") && len(a) > 1:
		return Regex, a[1:], nil
	}
	return Prefix, a, nil
}

func (b *builder) location(d *nginxconf.Directive, f *frame) error {
	mod, path, err := splitLocation(d)
	if err != nil {
		return err
	}
	if strings.HasPrefix(path, "@") {
		return d.Errorf(`named locations are not supported by proxyd: "%s"`, path)
	}
	loc := &Location{Modifier: mod, Path: path, File: d.File, Line: d.Line}
	if loc.IsRegex() {
		re, err := compileRegex(path, mod == RegexCaseless)
		if err != nil {
			return d.Errorf("%s", err.Error())
		}
		loc.Regex = re
	}
	lb := &locBuild{loc: loc, scope: &scope{}}
	var siblings *[]*Location
	var builds *[]*locBuild
	if f.ctx == ctxLocation {
		parent := f.loc
		if parent.Modifier == Exact {
			return d.Errorf(`location "%s" cannot be inside the exact location "%s"`, path, parent.Path)
		}
		if !loc.IsRegex() && !parent.IsRegex() && !strings.HasPrefix(path, parent.Path) {
			return d.Errorf(`location "%s" is outside location "%s"`, path, parent.Path)
		}
		siblings = &parent.Locations
		builds = &f.lb.locs
	} else {
		siblings = &f.server.Locations
		sb := b.servers[len(b.servers)-1]
		builds = &sb.locs
	}
	if !loc.IsRegex() {
		for _, o := range *siblings {
			if o.IsRegex() || o.Path != path {
				continue
			}
			if (o.Modifier == Exact) == (mod == Exact) {
				return d.Errorf(`duplicate location "%s"`, path)
			}
		}
	}
	*siblings = append(*siblings, loc)
	*builds = append(*builds, lb)
	nf := &frame{ctx: ctxLocation, scope: lb.scope, server: f.server, loc: loc, lb: lb, seen: map[string]bool{}, parent: f}
	return b.block(d.Block, nf)
}

// returnDirective parses "return CODE [TEXT|URL]" and "return URL".
func (b *builder) returnDirective(d *nginxconf.Directive, f *frame) error {
	r := &Return{}
	a := d.Args[0]
	if len(d.Args) == 1 && (strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "$scheme")) {
		r.Code = 302
		r.Text = a
	} else {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 || n > 999 {
			return d.Errorf(`invalid return code "%s"`, a)
		}
		r.Code = n
		if len(d.Args) == 2 {
			r.Text = d.Args[1]
		}
	}
	if err := checkVars(r.Text); err != nil {
		return d.Errorf("%s", err.Error())
	}
	if f.ctx == ctxLocation {
		if f.loc.Return == nil {
			f.loc.Return = r
		}
	} else if f.server.Return == nil {
		f.server.Return = r
	}
	return nil
}

// allowDeny parses "allow|deny ADDR|CIDR|all".
func (b *builder) allowDeny(d *nginxconf.Directive, f *frame) error {
	rule := AccessRule{Allow: d.Name == "allow"}
	v := d.Args[0]
	switch {
	case v == "all":
		rule.All = true
	case strings.Contains(v, "/"):
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return d.Errorf(`invalid parameter "%s"`, v)
		}
		rule.Prefix = p.Masked()
	default:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return d.Errorf(`invalid parameter "%s"`, v)
		}
		rule.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	f.scope.access = append(f.scope.access, rule)
	f.scope.accessSet = true
	return nil
}
