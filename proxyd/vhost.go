package proxyd

import (
	"net/netip"
	"sort"
	"strings"

	"halab/proxyd/config"
)

// vhosts are the server blocks reachable on one listen address, with the
// lookup tables nginx builds for server_name.
type vhosts struct {
	addr      netip.AddrPort
	def       *config.Server
	exact     map[string]*config.Server
	wildFront []nameEntry // longest first
	wildBack  []nameEntry // longest first
	regex     []regexEntry
}

type nameEntry struct {
	name string
	srv  *config.Server
}

type regexEntry struct {
	srv *config.Server
	re  config.ServerName
}

// buildVhosts groups servers by listen address. The default server of an
// address is the one marked default_server, else the first listed.
func buildVhosts(servers []*config.Server) map[netip.AddrPort]*vhosts {
	out := map[netip.AddrPort]*vhosts{}
	for _, s := range servers {
		for _, l := range s.Listens {
			v := out[l.Addr]
			if v == nil {
				v = &vhosts{addr: l.Addr, def: s, exact: map[string]*config.Server{}}
				out[l.Addr] = v
			}
			if l.DefaultServer {
				v.def = s
			}
			v.addNames(s)
		}
	}
	for _, v := range out {
		sort.SliceStable(v.wildFront, func(i, j int) bool { return len(v.wildFront[i].name) > len(v.wildFront[j].name) })
		sort.SliceStable(v.wildBack, func(i, j int) bool { return len(v.wildBack[i].name) > len(v.wildBack[j].name) })
	}
	return out
}

func (v *vhosts) addNames(s *config.Server) {
	for _, n := range s.Names {
		switch n.Kind {
		case config.NameExact:
			if _, dup := v.exact[n.Name]; !dup {
				v.exact[n.Name] = s
			}
		case config.NameWildcardFront:
			v.wildFront = append(v.wildFront, nameEntry{n.Name, s})
		case config.NameWildcardBack:
			v.wildBack = append(v.wildBack, nameEntry{n.Name, s})
		case config.NameRegex:
			v.regex = append(v.regex, regexEntry{s, n})
		}
	}
}

// find picks the server for a Host (already lowercased, without port):
// exact name, longest "*.x" wildcard, longest "x.*" wildcard, first
// matching regex, then the default server. The returned captures come
// from a regex name.
func (v *vhosts) find(host string) (*config.Server, []string) {
	if host == "" {
		return v.def, nil
	}
	if s, ok := v.exact[host]; ok {
		return s, nil
	}
	for _, w := range v.wildFront {
		// ".example.com" matches "www.example.com", and "example.com" is an exact entry
		if strings.HasSuffix(host, w.name) && len(host) > len(w.name) {
			return w.srv, nil
		}
	}
	for _, w := range v.wildBack {
		if strings.HasPrefix(host, w.name) && len(host) > len(w.name) {
			return w.srv, nil
		}
	}
	for _, r := range v.regex {
		if m := r.re.Regex.FindStringSubmatch(host); m != nil {
			return r.srv, m
		}
	}
	return v.def, nil
}
