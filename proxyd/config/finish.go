package config

import (
	"net/netip"
	"strings"
	"time"

	"halab/proxyd/nginxconf"
)

// finish resolves proxy_pass targets, merges inherited settings and checks
// what can only be checked once everything is read.
func (b *builder) finish() error {
	h := b.cfg.HTTP
	if h == nil {
		return nil
	}
	implicit := map[string]*Upstream{}
	for _, p := range b.passes {
		host, _, hasPort, _ := splitHostPort(p.pp.ProxyHost, 80)
		if up := lookupUpstream(h.Upstreams, host); up != nil && !strings.HasPrefix(p.pp.ProxyHost, "[") {
			if hasPort {
				return p.d.Errorf(`upstream "%s" may not have port %s`, up.Name, p.pp.ProxyPort)
			}
			p.pp.Upstream = up
			continue
		}
		if up := implicit[p.pp.ProxyHost]; up != nil {
			p.pp.Upstream = up
			continue
		}
		addrs, err := resolveHostPort(b.opts.Resolve, p.pp.ProxyHost, 80)
		if err != nil {
			return p.d.Errorf(`host not found in upstream "%s"`, p.pp.ProxyHost)
		}
		up := &Upstream{
			Name: p.pp.ProxyHost, File: p.d.File, Line: p.d.Line, Implicit: true, Balance: RoundRobin,
			Servers: []*UpstreamServer{{Name: p.pp.ProxyHost, Addrs: addrs, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}},
		}
		implicit[p.pp.ProxyHost] = up
		p.pp.Upstream = up
	}

	if b.httpScope.root == nil {
		root := b.path("html")
		b.httpScope.root = &root
	}
	if !b.httpScope.accessLogSet {
		b.httpScope.accessLogSet = true
		b.httpScope.accessLogs = []AccessLog{{Path: DefaultAccessLog, Format: h.LogFormats["combined"]}}
	}
	httpSettings := b.httpScope.merge(defaultSettings())
	for _, sb := range b.servers {
		sb.srv.Settings = sb.scope.merge(httpSettings)
		mergeLocations(sb.locs, sb.srv.Settings)
		h.Servers = append(h.Servers, sb.srv)
	}
	return checkDefaults(h.Servers)
}

func lookupUpstream(m map[string]*Upstream, host string) *Upstream {
	if up, ok := m[host]; ok {
		return up
	}
	for name, up := range m {
		if strings.EqualFold(name, host) {
			return up
		}
	}
	return nil
}

func mergeLocations(list []*locBuild, parent *Settings) {
	for _, lb := range list {
		lb.loc.Settings = lb.scope.merge(parent)
		mergeLocations(lb.locs, lb.loc.Settings)
	}
}

// checkDefaults rejects two default_server flags on one address.
func checkDefaults(servers []*Server) error {
	seen := map[netip.AddrPort]bool{}
	for _, s := range servers {
		for _, l := range s.Listens {
			if !l.DefaultServer {
				continue
			}
			if seen[l.Addr] {
				return &nginxconf.Error{File: l.File, Line: l.Line, Msg: "a duplicate default server for " + l.Addr.String()}
			}
			seen[l.Addr] = true
		}
	}
	return nil
}
