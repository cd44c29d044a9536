package config

import (
	"strconv"
	"strings"

	"halab/proxyd/nginxconf"
)

func (b *builder) upstream(d *nginxconf.Directive, f *frame) error {
	name := d.Args[0]
	if _, dup := b.cfg.HTTP.Upstreams[name]; dup {
		return d.Errorf(`duplicate upstream "%s"`, name)
	}
	up := &Upstream{Name: name, File: d.File, Line: d.Line, Balance: RoundRobin}
	b.cfg.HTTP.Upstreams[name] = up
	b.upOrder = append(b.upOrder, up)
	if err := b.block(d.Block, &frame{ctx: ctxUpstream, up: up, seen: map[string]bool{}, parent: f}); err != nil {
		return err
	}
	if len(up.Servers) == 0 {
		return d.Errorf(`no servers are inside upstream`)
	}
	return nil
}

// server dispatches "server": a block in http, a peer in upstream.
func (b *builder) server(d *nginxconf.Directive, f *frame) error {
	if f.ctx == ctxHTTP {
		if !d.IsBlock {
			return d.Errorf(`directive "server" has no opening "{"`)
		}
		if len(d.Args) != 0 {
			return d.Errorf(`invalid number of arguments in "server" directive`)
		}
		return b.serverBlock(d, f)
	}
	if d.IsBlock {
		return d.Errorf(`directive "server" is not terminated by ";"`)
	}
	if len(d.Args) < 1 {
		return d.Errorf(`invalid number of arguments in "server" directive`)
	}
	return b.upstreamServer(d, f.up)
}

func (b *builder) upstreamServer(d *nginxconf.Directive, up *Upstream) error {
	us := &UpstreamServer{Name: d.Args[0], Weight: 1, MaxFails: 1, FailTimeout: 10e9}
	for _, p := range d.Args[1:] {
		key, val, hasVal := strings.Cut(p, "=")
		var err error
		switch {
		case key == "weight" && hasVal:
			us.Weight, err = strconv.Atoi(val)
			if err == nil && us.Weight <= 0 {
				err = strconv.ErrRange
			}
		case key == "max_fails" && hasVal:
			us.MaxFails, err = strconv.Atoi(val)
			if err == nil && us.MaxFails < 0 {
				err = strconv.ErrRange
			}
		case key == "fail_timeout" && hasVal:
			var ok bool
			us.FailTimeout, ok = parseTime(val)
			if !ok {
				err = strconv.ErrSyntax
			}
		case key == "max_conns" && hasVal:
			_, err = strconv.Atoi(val)
		case p == "backup":
			if up.Balance != RoundRobin && up.Balance != LeastConn {
				return d.Errorf(`balancing method does not support parameter "backup"`)
			}
			us.Backup = true
		case p == "down":
			us.Down = true
		default:
			err = strconv.ErrSyntax
		}
		if err != nil {
			return d.Errorf(`invalid parameter "%s"`, p)
		}
	}
	if strings.HasPrefix(us.Name, "unix:") {
		return d.Errorf(`unix domain sockets are not supported in upstream "%s"`, us.Name)
	}
	addrs, err := resolveHostPort(b.opts.Resolve, us.Name, 80)
	if err != nil {
		return d.Errorf(`%s in upstream "%s"`, err.Error(), us.Name)
	}
	us.Addrs = addrs
	up.Servers = append(up.Servers, us)
	return nil
}

func (b *builder) balance(d *nginxconf.Directive, f *frame) error {
	up := f.up // nginx warns "load balancing method redefined" and takes the last one
	switch d.Name {
	case "ip_hash":
		for _, s := range up.Servers {
			if s.Backup {
				return d.Errorf(`balancing method does not support parameter "backup"`)
			}
		}
		up.Balance = IPHash
	case "least_conn":
		up.Balance = LeastConn
	case "hash":
		for _, s := range up.Servers {
			if s.Backup {
				return d.Errorf(`balancing method does not support parameter "backup"`)
			}
		}
		if len(d.Args) == 2 {
			if d.Args[1] != "consistent" {
				return d.Errorf(`invalid parameter "%s"`, d.Args[1])
			}
			up.Consistent = true
		}
		if err := checkVars(d.Args[0]); err != nil {
			return d.Errorf("%s", err.Error())
		}
		up.Balance = Hash
		up.HashKey = d.Args[0]
	}
	return nil
}

func (b *builder) upstreamKeepalive(d *nginxconf.Directive, f *frame) error {
	n, err := strconv.Atoi(d.Args[0])
	if err != nil || n <= 0 {
		return d.Errorf(`invalid value "%s" in "keepalive" directive`, d.Args[0])
	}
	f.up.Keepalive = n
	return nil
}
