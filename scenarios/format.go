package scenarios

import (
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"halab/internal/yamlpos"
	"halab/lab"
)

// Implementations that run a scenario's daemons.
const (
	ImplGo        = "go"        // vrrpd, proxyd, lbd
	ImplReference = "reference" // Debian's keepalived, nginx, haproxy
)

// Daemon kinds, named after the reference daemon whose config file they read.
const (
	KindKeepalived    = "keepalived"     // VRRP: vrrpd / keepalived
	KindNginx         = "nginx"          // proxyd / nginx
	KindHAProxy       = "haproxy"        // lbd / haproxy
	KindKeepalivedLVS = "keepalived-lvs" // lbd L4 mode / keepalived with IPVS
)

// Scenario is a parsed scenario file.
type Scenario struct {
	Name        string
	Description string
	// File is the scenario's path; Dir the directory config files and a
	// topology file are relative to.
	File, Dir string
	// Topology is the lab to build; its name is replaced by a unique lab
	// name at each run.
	Topology *lab.Topology
	// Impl is the default implementation ("go" unless the file says).
	Impl string
	// VIPs are watched on every node for the timeline, besides those the
	// expectations name.
	VIPs []string
	// Capture lists node:iface pairs captured for the whole run.
	Capture []CaptureSpec
	Daemons []Daemon
	// NA marks the whole scenario not applicable to an implementation,
	// with the reason.
	NA map[string]string
	// Timeout bounds a whole run (default 2 minutes).
	Timeout time.Duration
	Steps   []Step
}

// CaptureSpec is an interface captured during a run.
type CaptureSpec struct {
	Node, Iface string
	Line        int
}

// Daemon is a daemon started on a node when the lab is up.
type Daemon struct {
	Node string
	// Name identifies the daemon in steps (default: the kind).
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Config is the main config file, relative to the scenario's directory;
	// Files are more files copied next to it (included files, scripts).
	Config string   `yaml:"config"`
	Files  []string `yaml:"files"`
	Line   int      `yaml:"-"`
}

// Step is one entry of a scenario's steps: exactly one action.
type Step struct {
	Line int
	// Name labels the step in progress lines and reports (optional).
	Name string
	// NA skips the step for an implementation, with the reason.
	NA map[string]string

	Traffic     *TrafficStep
	Signal      *SignalStep
	Stop        *DaemonRef
	Start       *DaemonRef
	Restart     *DaemonRef
	LinkDown    *LinkRef
	LinkUp      *LinkRef
	Crash       string // node name
	Recover     string // node name
	Partition   *PartitionStep
	Heal        bool
	BlockVRRP   []string // nodes that stop hearing each other's VRRP
	UnblockVRRP bool
	Loss        *LossStep
	Bandwidth   *BandwidthStep
	Pause       time.Duration
	Wait        *Expect
	Expect      *Expect
}

// Action names the step's action as written in the file.
func (s *Step) Action() string {
	switch {
	case s.Traffic != nil:
		return "traffic"
	case s.Signal != nil:
		return "signal"
	case s.Stop != nil:
		return "stop"
	case s.Start != nil:
		return "start"
	case s.Restart != nil:
		return "restart"
	case s.LinkDown != nil:
		return "link_down"
	case s.LinkUp != nil:
		return "link_up"
	case s.Crash != "":
		return "crash"
	case s.Recover != "":
		return "recover"
	case s.Partition != nil:
		return "partition"
	case s.Heal:
		return "heal"
	case s.BlockVRRP != nil:
		return "block_vrrp"
	case s.UnblockVRRP:
		return "unblock_vrrp"
	case s.Loss != nil:
		return "loss"
	case s.Bandwidth != nil:
		return "bandwidth"
	case s.Pause > 0:
		return "pause"
	case s.Wait != nil:
		return "wait"
	case s.Expect != nil:
		return "expect"
	}
	return ""
}

// IsFault reports whether the step changes the lab (trace expectations
// look at packets since the last such step by default).
func (s *Step) IsFault() bool {
	switch s.Action() {
	case "traffic", "pause", "wait", "expect", "":
		return false
	}
	return true
}

// TrafficStep starts probes from a node in the background.
type TrafficStep struct {
	Name string `yaml:"name"`
	From string `yaml:"from"`
	// URL makes HTTP probes; Connect (host:port) makes TCP connect probes.
	URL     string `yaml:"url"`
	Connect string `yaml:"connect"`
	Host    string `yaml:"host"`
	// Cookies keeps a cookie jar; KeepAlive reuses one connection.
	Cookies   bool     `yaml:"cookies"`
	KeepAlive bool     `yaml:"keepalive"`
	Rate      float64  `yaml:"rate"` // requests per second (default 10)
	Duration  Duration `yaml:"duration"`
	Count     int      `yaml:"count"`
	Timeout   Duration `yaml:"timeout"` // per request (default 1s)
	Line      int      `yaml:"-"`
}

// SignalStep signals a daemon or any process by name in a node.
type SignalStep struct {
	Node    string `yaml:"node"`
	Daemon  string `yaml:"daemon"`
	Process string `yaml:"process"`
	Signal  string `yaml:"signal"`
	Line    int    `yaml:"-"`
}

// DaemonRef names a daemon of a node.
type DaemonRef struct {
	Node   string `yaml:"node"`
	Daemon string `yaml:"daemon"`
	Line   int    `yaml:"-"`
}

// LinkRef names a node's interface.
type LinkRef struct {
	Node  string `yaml:"node"`
	Iface string `yaml:"iface"`
	Line  int    `yaml:"-"`
}

// PartitionStep cuts every pair of nodes in different groups apart.
type PartitionStep struct {
	Groups [][]string `yaml:"groups"`
	Line   int        `yaml:"-"`
}

// LossStep drops a percentage of the packets through an interface (0 removes
// the loss).
type LossStep struct {
	Node    string `yaml:"node"`
	Iface   string `yaml:"iface"`
	Percent int    `yaml:"percent"`
	Line    int    `yaml:"-"`
}

// BandwidthStep limits an interface's egress with tbf ("off" removes it).
type BandwidthStep struct {
	Node  string `yaml:"node"`
	Iface string `yaml:"iface"`
	Rate  string `yaml:"rate"`  // tc rate: 1mbit, 500kbit, off
	Burst string `yaml:"burst"` // default 32kbit
	Line  int    `yaml:"-"`
}

// Expect is a condition: checked by expect steps, waited for by wait steps.
// Exactly one of VIP, Traffic, Log, State, Trace and NoTrace is set.
type Expect struct {
	Line int `yaml:"-"`
	// Within is how long the condition may take to become true.
	Within Duration `yaml:"within"`

	// VIP expectations: held by Holder, by exactly one node (OneHolder),
	// or by several (SplitBrain).
	VIP        string `yaml:"vip"`
	Holder     string `yaml:"holder"`
	OneHolder  bool   `yaml:"one_holder"`
	SplitBrain bool   `yaml:"split_brain"`

	// Traffic expectations name a traffic step; they wait for it to end.
	Traffic            string            `yaml:"traffic"`
	MaxFailures        *int              `yaml:"max_failures"`
	LongestOutageUnder Duration          `yaml:"longest_outage_under"`
	MinSuccessRatio    *float64          `yaml:"min_success_ratio"`
	Spread             *SpreadSpec       `yaml:"spread"`
	Sticky             string            `yaml:"sticky"` // cookie | client
	SetCookie          string            `yaml:"set_cookie"`
	Headers            map[string]string `yaml:"headers"`
	ClientAddrSeen     bool              `yaml:"client_addr_seen"`
	Status             int               `yaml:"status"`
	Apps               []string          `yaml:"apps"`

	Log   *LogExpect   `yaml:"log"`
	State *StateExpect `yaml:"state"`

	// Trace expects packets matching the patterns in order; NoTrace expects
	// no packet matching the pattern. Both look at packets captured since
	// the last fault step (Since: start for the whole run).
	Trace   []TracePattern `yaml:"trace"`
	NoTrace *TracePattern  `yaml:"no_trace"`
	Since   string         `yaml:"since"`
}

// SpreadSpec expects requests spread evenly across apps, each within
// Tolerance (a fraction) of an equal share.
type SpreadSpec struct {
	Apps      []string `yaml:"apps"`
	Tolerance float64  `yaml:"tolerance"`
}

// LogExpect expects a line matching Match in a daemon's log (or a file in
// the node).
type LogExpect struct {
	Node   string `yaml:"node"`
	Daemon string `yaml:"daemon"`
	File   string `yaml:"file"`
	Match  string `yaml:"match"`
}

// StateExpect expects a VRRP state (MASTER, BACKUP, FAULT) on a node.
type StateExpect struct {
	Node     string `yaml:"node"`
	Instance string `yaml:"instance"`
	Is       string `yaml:"is"`
}

// TracePattern describes packets in a trace expectation.
type TracePattern struct {
	VRRP     bool   `yaml:"vrrp"`
	Priority *int   `yaml:"priority"`
	VRID     int    `yaml:"vrid"`
	GARP     string `yaml:"garp"` // gratuitous ARP for this address
	TCP      string `yaml:"tcp"`  // flags: S, SA, A, FA, R, RA...
	From     string `yaml:"from"` // node name or address
	To       string `yaml:"to"`
	Port     int    `yaml:"port"`
	On       string `yaml:"on"` // node[:iface]
	Line     int    `yaml:"-"`
}

// Duration is a time.Duration written as "2s", "500ms".
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind != yaml.ScalarNode {
		return posf(v.Line, "duration must be a string such as 2s or 500ms")
	}
	x, err := time.ParseDuration(v.Value)
	if err != nil || x < 0 {
		return posf(v.Line, "bad duration %q: want a positive duration such as 2s or 500ms", v.Value)
	}
	*d = Duration(x)
	return nil
}

// PosError is an error at a place in a scenario file: FILE:LINE: problem.
type PosError = yamlpos.Error

var posf = yamlpos.Errorf

var checkKeys = yamlpos.CheckKeys

// stepActions are the keys that choose a step's action.
var stepActions = []string{"traffic", "signal", "stop", "start", "restart", "link_down", "link_up",
	"crash", "recover", "partition", "heal", "block_vrrp", "unblock_vrrp", "loss", "bandwidth",
	"pause", "wait", "expect"}

// UnmarshalYAML decodes a step strictly: exactly one action plus optional
// name and na.
func (s *Step) UnmarshalYAML(v *yaml.Node) error {
	s.Line = v.Line
	if err := checkKeys(v, "step", append([]string{"name", "na"}, stepActions...)...); err != nil {
		return err
	}
	var action string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "name":
			if err := val.Decode(&s.Name); err != nil {
				return err
			}
			continue
		case "na":
			if err := decodeNA(val, &s.NA); err != nil {
				return err
			}
			continue
		}
		if action != "" {
			return posf(k.Line, "step has two actions, %s and %s: write one per step", action, k.Value)
		}
		action = k.Value
		if err := s.decodeAction(k.Value, val); err != nil {
			return err
		}
	}
	if action == "" {
		return posf(v.Line, "step has no action (one of: %s)", strings.Join(stepActions, ", "))
	}
	return nil
}

func (s *Step) decodeAction(key string, v *yaml.Node) error {
	strict := func(what string, out any, keys ...string) error {
		if err := checkKeys(v, what, keys...); err != nil {
			return err
		}
		return v.Decode(out)
	}
	scalar := func(out *string) error {
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			return posf(v.Line, "%s wants a node name", key)
		}
		*out = v.Value
		return nil
	}
	flag := func(out *bool) error {
		if v.Kind != yaml.ScalarNode {
			return posf(v.Line, "%s wants true (or an empty value)", key)
		}
		*out = true
		return nil
	}
	switch key {
	case "traffic":
		s.Traffic = &TrafficStep{Line: v.Line}
		return strict("traffic", s.Traffic, "name", "from", "url", "connect", "host", "cookies", "keepalive", "rate", "duration", "count", "timeout")
	case "signal":
		s.Signal = &SignalStep{Line: v.Line}
		return strict("signal", s.Signal, "node", "daemon", "process", "signal")
	case "stop", "start", "restart":
		r := &DaemonRef{Line: v.Line}
		switch key {
		case "stop":
			s.Stop = r
		case "start":
			s.Start = r
		default:
			s.Restart = r
		}
		return strict(key, r, "node", "daemon")
	case "link_down", "link_up":
		r := &LinkRef{Line: v.Line}
		if key == "link_down" {
			s.LinkDown = r
		} else {
			s.LinkUp = r
		}
		return strict(key, r, "node", "iface")
	case "crash":
		return scalar(&s.Crash)
	case "recover":
		return scalar(&s.Recover)
	case "partition":
		s.Partition = &PartitionStep{Line: v.Line}
		return strict("partition", s.Partition, "groups")
	case "heal":
		return flag(&s.Heal)
	case "unblock_vrrp":
		return flag(&s.UnblockVRRP)
	case "block_vrrp":
		if v.Kind != yaml.SequenceNode {
			return posf(v.Line, "block_vrrp wants a list of nodes, such as [nginx01, nginx02]")
		}
		s.BlockVRRP = []string{}
		return v.Decode(&s.BlockVRRP)
	case "loss":
		s.Loss = &LossStep{Line: v.Line}
		return strict("loss", s.Loss, "node", "iface", "percent")
	case "bandwidth":
		s.Bandwidth = &BandwidthStep{Line: v.Line}
		return strict("bandwidth", s.Bandwidth, "node", "iface", "rate", "burst")
	case "pause":
		var d Duration
		if err := d.UnmarshalYAML(v); err != nil {
			return err
		}
		if d == 0 {
			return posf(v.Line, "pause must be longer than 0s")
		}
		s.Pause = d.D()
		return nil
	case "wait", "expect":
		e := &Expect{}
		if err := e.UnmarshalYAML(v); err != nil {
			return err
		}
		if key == "wait" {
			s.Wait = e
		} else {
			s.Expect = e
		}
		return nil
	}
	return posf(v.Line, "unknown action %q", key)
}

var expectKeys = []string{"within", "vip", "holder", "one_holder", "split_brain", "traffic", "max_failures",
	"longest_outage_under", "min_success_ratio", "spread", "sticky", "set_cookie", "headers",
	"client_addr_seen", "status", "apps", "log", "state", "trace", "no_trace", "since"}

// UnmarshalYAML decodes an expectation strictly.
func (e *Expect) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "expectation", expectKeys...); err != nil {
		return err
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "spread":
			if err := checkKeys(val, "spread", "apps", "tolerance"); err != nil {
				return err
			}
		case "log":
			if err := checkKeys(val, "log expectation", "node", "daemon", "file", "match"); err != nil {
				return err
			}
		case "state":
			if err := checkKeys(val, "state expectation", "node", "instance", "is"); err != nil {
				return err
			}
		}
	}
	type plain Expect
	if err := v.Decode((*plain)(e)); err != nil {
		return err
	}
	e.Line = v.Line
	return nil
}

// UnmarshalYAML decodes a trace pattern strictly.
func (p *TracePattern) UnmarshalYAML(v *yaml.Node) error {
	if err := checkKeys(v, "trace pattern", "vrrp", "priority", "vrid", "garp", "tcp", "from", "to", "port", "on"); err != nil {
		return err
	}
	type plain TracePattern
	if err := v.Decode((*plain)(p)); err != nil {
		return err
	}
	p.Line = v.Line
	return nil
}

// UnmarshalYAML accepts "node:iface".
func (c *CaptureSpec) UnmarshalYAML(v *yaml.Node) error {
	c.Line = v.Line
	node, iface, ok := strings.Cut(v.Value, ":")
	if v.Kind != yaml.ScalarNode || !ok || node == "" || iface == "" {
		return posf(v.Line, "capture entry must be NODE:IFACE, such as nginx01:eth0")
	}
	c.Node, c.Iface = node, iface
	return nil
}

func decodeNA(v *yaml.Node, out *map[string]string) error {
	if v.Kind != yaml.MappingNode {
		return posf(v.Line, "na must map an implementation to a reason, such as {reference: \"needs IPVS\"}")
	}
	m := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Value != ImplGo && k.Value != ImplReference {
			return posf(k.Line, "na: unknown implementation %q (go or reference)", k.Value)
		}
		if val.Kind != yaml.ScalarNode || strings.TrimSpace(val.Value) == "" {
			return posf(val.Line, "na: %s needs a reason", k.Value)
		}
		m[k.Value] = val.Value
	}
	*out = m
	return nil
}

// daemonsNode decodes `daemons: {node: [daemon, ...]}`.
func decodeDaemons(v *yaml.Node) ([]Daemon, error) {
	if v.Kind != yaml.MappingNode {
		return nil, posf(v.Line, "daemons must map node names to lists of daemons")
	}
	var out []Daemon
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, list := v.Content[i], v.Content[i+1]
		if list.Kind != yaml.SequenceNode {
			return nil, posf(list.Line, "daemons of %s must be a list", k.Value)
		}
		for _, item := range list.Content {
			if err := checkKeys(item, "daemon", "name", "kind", "config", "files"); err != nil {
				return nil, err
			}
			var d Daemon
			if err := item.Decode(&d); err != nil {
				return nil, err
			}
			d.Node, d.Line = k.Value, item.Line
			if d.Name == "" {
				d.Name = d.Kind
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// itoa is strconv.Itoa, short for messages.
func itoa(i int) string { return strconv.Itoa(i) }
