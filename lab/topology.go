package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"halab/internal/yamlpos"
)

// Topology is a lab described by a YAML file: nodes with interfaces on LANs
// (bridges) or point-to-point links, addresses, routes and sysctls.
type Topology struct {
	Name  string     `yaml:"name"`
	LANs  []LANSpec  `yaml:"lans,omitempty"`
	Links []LinkSpec `yaml:"links,omitempty"`
	Nodes []NodeSpec `yaml:"nodes"`

	// File is the path the topology was read from ("" for inline data).
	File string `yaml:"-"`
}

// LANSpec is a named layer-2 segment: a bridge in the lab's switch namespace.
type LANSpec struct {
	Name string `yaml:"name"`
	Line int    `yaml:"-"`
}

// LinkSpec is a point-to-point link: a veth pair between two node interfaces
// that name it.
type LinkSpec struct {
	Name string `yaml:"name"`
	Line int    `yaml:"-"`
}

// NodeSpec is one light container of the lab.
type NodeSpec struct {
	Name       string            `yaml:"name"`
	Role       string            `yaml:"role,omitempty"`
	Interfaces []IfaceSpec       `yaml:"interfaces,omitempty"`
	Routes     []RouteSpec       `yaml:"routes,omitempty"`
	Sysctls    map[string]string `yaml:"sysctls,omitempty"`
	Run        []RunSpec         `yaml:"run,omitempty"`
	Line       int               `yaml:"-"`
}

// IfaceSpec is a node interface attached to a LAN or a point-to-point link.
type IfaceSpec struct {
	Name      string     `yaml:"name"`
	LAN       string     `yaml:"lan,omitempty"`
	Link      string     `yaml:"link,omitempty"`
	Addresses []AddrSpec `yaml:"addresses,omitempty"`
	MTU       int        `yaml:"mtu,omitempty"`
	Line      int        `yaml:"-"`
}

// AddrSpec is an interface address in CIDR form (IPv4 or IPv6).
type AddrSpec struct {
	Prefix netip.Prefix
	Line   int
}

// RouteSpec is a static route; To is "default" or a CIDR prefix.
type RouteSpec struct {
	To   string `yaml:"to"`
	Via  string `yaml:"via,omitempty"`
	Dev  string `yaml:"dev,omitempty"`
	Line int    `yaml:"-"`
}

// RunSpec is a process started in the node when the lab comes up, such as
// the test app or a daemon.
type RunSpec struct {
	Name string   `yaml:"name"`
	Cmd  []string `yaml:"cmd"`
	Line int      `yaml:"-"`
}

// PosError is an error at a place in a topology file: FILE:LINE: problem.
type PosError = yamlpos.Error

// LoadTopology reads and validates a topology file.
func LoadTopology(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	t, err := ParseTopology(path, data)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(path); err == nil {
		t.File = abs
	}
	return t, nil
}

// ParseTopology parses and validates topology YAML; file names the source in
// errors.
func ParseTopology(file string, data []byte) (*Topology, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &PosError{File: file, Msg: "empty topology"}
		}
		return nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, &PosError{File: file, Msg: "empty topology"}
	}
	var t Topology
	if err := root.Decode(&t); err != nil {
		return nil, yamlError(file, err)
	}
	t.File = file
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

func yamlError(file string, err error) error { return yamlpos.Wrap(file, err) }

var checkKeys = yamlpos.CheckKeys

// UnmarshalYAML decodes the topology strictly.
func (t *Topology) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "topology", "name", "lans", "links", "nodes"); err != nil {
		return err
	}
	type plain Topology
	return v.Decode((*plain)(t))
}

// UnmarshalYAML accepts `- name: x` or a bare `- x`.
func (l *LANSpec) UnmarshalYAML(v *yaml.Node) error {
	l.Line = v.Line
	if v.Kind == yaml.ScalarNode {
		l.Name = v.Value
		return nil
	}
	if err := checkKeys(v, "lan", "name"); err != nil {
		return err
	}
	type plain LANSpec
	return v.Decode((*plain)(l))
}

// UnmarshalYAML accepts `- name: x` or a bare `- x`.
func (l *LinkSpec) UnmarshalYAML(v *yaml.Node) error {
	l.Line = v.Line
	if v.Kind == yaml.ScalarNode {
		l.Name = v.Value
		return nil
	}
	if err := checkKeys(v, "link", "name"); err != nil {
		return err
	}
	type plain LinkSpec
	return v.Decode((*plain)(l))
}

// UnmarshalYAML decodes a node strictly and records its line.
func (n *NodeSpec) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "node", "name", "role", "interfaces", "routes", "sysctls", "run"); err != nil {
		return err
	}
	type plain NodeSpec
	if err := v.Decode((*plain)(n)); err != nil {
		return err
	}
	n.Line = v.Line
	return nil
}

// UnmarshalYAML decodes an interface strictly and records its line.
func (i *IfaceSpec) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "interface", "name", "lan", "link", "addresses", "mtu"); err != nil {
		return err
	}
	type plain IfaceSpec
	if err := v.Decode((*plain)(i)); err != nil {
		return err
	}
	i.Line = v.Line
	return nil
}

// UnmarshalYAML decodes a route strictly and records its line.
func (r *RouteSpec) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "route", "to", "via", "dev"); err != nil {
		return err
	}
	type plain RouteSpec
	if err := v.Decode((*plain)(r)); err != nil {
		return err
	}
	r.Line = v.Line
	return nil
}

// UnmarshalYAML decodes a run entry strictly and records its line.
func (r *RunSpec) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "run entry", "name", "cmd"); err != nil {
		return err
	}
	type plain RunSpec
	if err := v.Decode((*plain)(r)); err != nil {
		return err
	}
	r.Line = v.Line
	return nil
}

// UnmarshalYAML parses a CIDR address and records its line.
func (a *AddrSpec) UnmarshalYAML(v *yaml.Node) error {
	a.Line = v.Line
	if v.Kind != yaml.ScalarNode {
		return yamlpos.Errorf(v.Line, "address must be a string in CIDR form, such as 10.0.1.10/24")
	}
	p, err := netip.ParsePrefix(v.Value)
	if err != nil {
		return yamlpos.Errorf(v.Line, "malformed CIDR address %q: want ADDRESS/PREFIXLEN, such as 10.0.1.10/24", v.Value)
	}
	a.Prefix = p
	return nil
}

// MarshalYAML writes the address back in CIDR form.
func (a AddrSpec) MarshalYAML() (any, error) { return a.Prefix.String(), nil }

var (
	labNameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,15}$`)
	nodeNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	lanNameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,11}$`)
	ifNameRe   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$`)
)

// Validate checks the topology for every error the lab would otherwise hit
// half way through building it. Errors name the file and line.
func (t *Topology) Validate() error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &PosError{File: t.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if !labNameRe.MatchString(t.Name) {
		bad(0, "lab name %q: want 1-16 characters of a-z, 0-9, '-' and '_', starting with a letter or digit", t.Name)
	}
	if len(t.Nodes) == 0 {
		bad(0, "no nodes")
	}
	lans := map[string]int{}
	for _, l := range t.LANs {
		switch {
		case !lanNameRe.MatchString(l.Name):
			bad(l.Line, "LAN name %q: want 1-12 characters of a-z, 0-9, '-' and '_'", l.Name)
		case has(lans, l.Name):
			bad(l.Line, "duplicate LAN %q (first defined at line %d)", l.Name, lans[l.Name])
		default:
			lans[l.Name] = l.Line
		}
	}
	links := map[string]int{}
	for _, l := range t.Links {
		switch {
		case !lanNameRe.MatchString(l.Name):
			bad(l.Line, "link name %q: want 1-12 characters of a-z, 0-9, '-' and '_'", l.Name)
		case has(links, l.Name):
			bad(l.Line, "duplicate link %q (first defined at line %d)", l.Name, links[l.Name])
		case has(lans, l.Name):
			bad(l.Line, "link %q has the name of a LAN", l.Name)
		default:
			links[l.Name] = l.Line
		}
	}
	linkEnds := map[string][]string{}
	nodes := map[string]int{}
	addrs := map[netip.Addr]string{}
	for _, n := range t.Nodes {
		switch {
		case !nodeNameRe.MatchString(n.Name):
			bad(n.Line, "node name %q: want 1-32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit", n.Name)
		case has(nodes, n.Name):
			bad(n.Line, "duplicate node %q (first defined at line %d)", n.Name, nodes[n.Name])
		default:
			nodes[n.Name] = n.Line
		}
		ifaces := map[string]int{}
		var connected []netip.Prefix
		for _, i := range n.Interfaces {
			switch {
			case !ifNameRe.MatchString(i.Name) || i.Name == "lo":
				bad(i.Line, "node %s: interface name %q: want 1-15 characters of letters, digits, '_', '.' and '-', not lo", n.Name, i.Name)
			case has(ifaces, i.Name):
				bad(i.Line, "node %s: duplicate interface %q (first defined at line %d)", n.Name, i.Name, ifaces[i.Name])
			default:
				ifaces[i.Name] = i.Line
			}
			switch {
			case i.LAN != "" && i.Link != "":
				bad(i.Line, "node %s interface %s: give either lan or link, not both", n.Name, i.Name)
			case i.LAN == "" && i.Link == "":
				bad(i.Line, "node %s interface %s: needs a lan or a link", n.Name, i.Name)
			case i.LAN != "" && !has(lans, i.LAN):
				bad(i.Line, "node %s interface %s: unknown LAN %q", n.Name, i.Name, i.LAN)
			case i.Link != "" && !has(links, i.Link):
				bad(i.Line, "node %s interface %s: unknown link %q", n.Name, i.Name, i.Link)
			case i.Link != "":
				linkEnds[i.Link] = append(linkEnds[i.Link], n.Name+":"+i.Name)
			}
			if i.MTU != 0 && (i.MTU < 68 || i.MTU > 65535) {
				bad(i.Line, "node %s interface %s: mtu %d out of range 68-65535", n.Name, i.Name, i.MTU)
			}
			for _, a := range i.Addresses {
				where := fmt.Sprintf("%s:%s (line %d)", n.Name, i.Name, a.Line)
				if prev, ok := addrs[a.Prefix.Addr()]; ok {
					bad(a.Line, "duplicate address %s: already on %s", a.Prefix.Addr(), prev)
					continue
				}
				addrs[a.Prefix.Addr()] = where
				connected = append(connected, a.Prefix.Masked())
			}
		}
		for _, r := range n.Routes {
			t.validateRoute(n, r, connected, ifaces, bad)
		}
		for k := range n.Sysctls {
			if !strings.HasPrefix(k, "net.") || strings.Contains(k, "..") || strings.ContainsAny(k, "/ ") {
				bad(n.Line, "node %s: sysctl %q: only per-namespace net.* sysctls can be set in a node", n.Name, k)
			}
		}
		runs := map[string]bool{}
		for _, r := range n.Run {
			switch {
			case !nodeNameRe.MatchString(r.Name):
				bad(r.Line, "node %s: run entry needs a name of a-z, 0-9, '-' and '_'", n.Name)
			case runs[r.Name]:
				bad(r.Line, "node %s: duplicate run entry %q", n.Name, r.Name)
			case len(r.Cmd) == 0:
				bad(r.Line, "node %s: run entry %q has an empty cmd", n.Name, r.Name)
			}
			runs[r.Name] = true
		}
	}
	for _, l := range t.Links {
		if ends := linkEnds[l.Name]; len(ends) != 2 {
			bad(l.Line, "link %q must join exactly two interfaces, has %d %v", l.Name, len(ends), ends)
		}
	}
	return errors.Join(errs...)
}

func has(m map[string]int, k string) bool { _, ok := m[k]; return ok }

func (t *Topology) validateRoute(n NodeSpec, r RouteSpec, connected []netip.Prefix, ifaces map[string]int, bad func(int, string, ...any)) {
	if r.To != "default" {
		if _, err := netip.ParsePrefix(r.To); err != nil {
			bad(r.Line, "node %s: route to %q: want \"default\" or a CIDR prefix", n.Name, r.To)
		}
	}
	if r.Dev != "" && !has(ifaces, r.Dev) {
		bad(r.Line, "node %s: route dev %q is not an interface of the node", n.Name, r.Dev)
	}
	if r.Via == "" {
		if r.Dev == "" {
			bad(r.Line, "node %s: route to %s needs via or dev", n.Name, r.To)
		}
		return
	}
	gw, err := netip.ParseAddr(r.Via)
	if err != nil {
		bad(r.Line, "node %s: route via %q: not an IP address", n.Name, r.Via)
		return
	}
	for _, p := range connected {
		if p.Contains(gw) {
			return
		}
	}
	bad(r.Line, "node %s: gateway %s is not on any connected subnet of the node", n.Name, gw)
}

// NodeSpec returns the spec of the named node.
func (t *Topology) NodeSpec(name string) (NodeSpec, bool) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return NodeSpec{}, false
}

// Marshal renders the topology as YAML.
func (t *Topology) Marshal() ([]byte, error) { return yaml.Marshal(t) }
