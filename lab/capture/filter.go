package capture

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Filter selects packets for a live trace. Build one with [ParseFilter];
// the zero Filter matches every packet.
type Filter struct {
	expr string
	m    func(*Packet) bool
}

// Match reports whether p passes the filter.
func (f Filter) Match(p *Packet) bool {
	return f.m == nil || f.m(p)
}

// String returns the filter expression as written.
func (f Filter) String() string { return f.expr }

// FilterError reports a bad filter expression and where the problem is.
type FilterError struct {
	Expr string // the whole expression
	Pos  int    // byte offset of the offending word in Expr
	Msg  string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("filter %q: at offset %d: %s", e.Expr, e.Pos, e.Msg)
}

// FilterHelp summarizes the filter language, for command usage texts.
const FilterHelp = `protocols: vrrp arp tcp udp icmp ip ip6
addresses: host A, src host A, dst host A (IP source/destination, ARP sender/target)
ports:     port N, src port N, dst port N (TCP or UDP)
combine:   and (&&, or nothing), or (||), not (!), parentheses`

// ParseFilter parses a tcpdump-like filter expression:
//
//	vrrp
//	arp or icmp
//	tcp and port 80 and not host 10.0.1.10
//	udp port 53            (juxtaposition means "and")
//	(vrrp or arp) and host 10.0.1.2
//
// "not" binds tighter than "and", which binds tighter than "or". An empty
// expression matches everything.
func ParseFilter(expr string) (Filter, error) {
	p := &filterParser{expr: expr, toks: tokenizeFilter(expr)}
	if len(p.toks) == 0 {
		return Filter{expr: expr}, nil
	}
	m, err := p.parseOr()
	if err != nil {
		return Filter{}, err
	}
	if t, ok := p.peek(); ok {
		if t.s == ")" {
			return Filter{}, p.errAt(t, `unbalanced ")"`)
		}
		return Filter{}, p.errAt(t, fmt.Sprintf("unexpected %q", t.s))
	}
	return Filter{expr: expr, m: m}, nil
}

// MustParseFilter is ParseFilter for constant expressions; it panics on error.
func MustParseFilter(expr string) Filter {
	f, err := ParseFilter(expr)
	if err != nil {
		panic(err)
	}
	return f
}

type filterToken struct {
	s   string
	pos int
}

func tokenizeFilter(s string) []filterToken {
	var toks []filterToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, filterToken{string(c), i})
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, filterToken{s[i : i+2], i})
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()!", rune(s[j])) &&
				!strings.HasPrefix(s[j:], "&&") && !strings.HasPrefix(s[j:], "||") {
				j++
			}
			toks = append(toks, filterToken{s[i:j], i})
			i = j
		}
	}
	return toks
}

type filterParser struct {
	expr string
	toks []filterToken
	i    int
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.i >= len(p.toks) {
		return filterToken{}, false
	}
	return p.toks[p.i], true
}

func (p *filterParser) next() (filterToken, bool) {
	t, ok := p.peek()
	if ok {
		p.i++
	}
	return t, ok
}

func (p *filterParser) errAt(t filterToken, msg string) error {
	return &FilterError{Expr: p.expr, Pos: t.pos, Msg: msg}
}

func (p *filterParser) errEnd(msg string) error {
	return &FilterError{Expr: p.expr, Pos: len(p.expr), Msg: msg}
}

func (p *filterParser) parseOr() (func(*Packet) bool, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || (t.s != "or" && t.s != "||") {
			return left, nil
		}
		p.i++
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(pk *Packet) bool { return l(pk) || right(pk) }
	}
}

func (p *filterParser) parseAnd() (func(*Packet) bool, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.s == "or" || t.s == "||" || t.s == ")" {
			return left, nil
		}
		if t.s == "and" || t.s == "&&" {
			p.i++
		}
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(pk *Packet) bool { return l(pk) && right(pk) }
	}
}

func (p *filterParser) parseUnary() (func(*Packet) bool, error) {
	t, ok := p.next()
	if !ok {
		return nil, p.errEnd("expression ends early: want a protocol, host, port, not or (")
	}
	switch t.s {
	case "not", "!":
		m, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return func(pk *Packet) bool { return !m(pk) }, nil
	case "(":
		m, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c, ok := p.next()
		if !ok {
			return nil, p.errEnd(`missing ")"`)
		}
		if c.s != ")" {
			return nil, p.errAt(c, fmt.Sprintf(`want ")", got %q`, c.s))
		}
		return m, nil
	}
	return p.parsePrimitive(t)
}

func (p *filterParser) parsePrimitive(t filterToken) (func(*Packet) bool, error) {
	switch proto := Proto(t.s); proto {
	case ProtoVRRP, ProtoARP, ProtoTCP, ProtoUDP, ProtoICMP, ProtoIP, ProtoIP6:
		return func(pk *Packet) bool { return pk.Is(proto) }, nil
	}
	dir := ""
	if t.s == "src" || t.s == "dst" {
		dir = t.s
		var ok bool
		if t, ok = p.next(); !ok {
			return nil, p.errEnd(fmt.Sprintf("%q needs host or port after it", dir))
		}
		if t.s != "host" && t.s != "port" {
			return nil, p.errAt(t, fmt.Sprintf("%q needs host or port after it, got %q", dir, t.s))
		}
	}
	switch t.s {
	case "host":
		return p.parseHost(t, dir)
	case "port":
		return p.parsePort(t, dir)
	case "and", "or", "&&", "||":
		return nil, p.errAt(t, fmt.Sprintf("%q needs an expression before it", t.s))
	case ")":
		return nil, p.errAt(t, `unbalanced ")"`)
	}
	return nil, p.errAt(t, fmt.Sprintf("unknown word %q: want vrrp, arp, tcp, udp, icmp, ip, ip6, host, port, src, dst, and, or, not", t.s))
}

func (p *filterParser) parseHost(kw filterToken, dir string) (func(*Packet) bool, error) {
	t, ok := p.next()
	if !ok {
		return nil, p.errEnd(`"host" needs an IP address`)
	}
	a, err := netip.ParseAddr(t.s)
	if err != nil {
		return nil, p.errAt(t, fmt.Sprintf("%q after %q is not an IP address", t.s, kw.s))
	}
	switch dir {
	case "src":
		return func(pk *Packet) bool { return pk.Src() == a }, nil
	case "dst":
		return func(pk *Packet) bool { return pk.Dst() == a }, nil
	}
	return func(pk *Packet) bool { return pk.Src() == a || pk.Dst() == a }, nil
}

func (p *filterParser) parsePort(kw filterToken, dir string) (func(*Packet) bool, error) {
	t, ok := p.next()
	if !ok {
		return nil, p.errEnd(`"port" needs a number`)
	}
	n, err := strconv.ParseUint(t.s, 10, 16)
	if err != nil {
		return nil, p.errAt(t, fmt.Sprintf("%q after %q is not a port number (0-65535)", t.s, kw.s))
	}
	port := uint16(n)
	return func(pk *Packet) bool {
		s, d, ok := pk.Ports()
		switch {
		case !ok:
			return false
		case dir == "src":
			return s == port
		case dir == "dst":
			return d == port
		}
		return s == port || d == port
	}, nil
}
