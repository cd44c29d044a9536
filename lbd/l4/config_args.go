package l4

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"halab/internal/kaconf"
)

// maxTimer bounds timers (keepalived stores them in microseconds).
const maxTimer = 365 * 24 * time.Hour

func oneArg(s *kaconf.Stmt) error {
	if len(s.Args) != 1 {
		return errAt(s, "%s needs exactly one argument", s.Keyword)
	}
	return nil
}

// intArg reads the single integer argument of s, in [lo, hi].
func intArg(s *kaconf.Stmt, lo, hi int) (int, error) {
	if err := oneArg(s); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s.Args[0])
	if err != nil {
		return 0, errAt(s, "%s: invalid number '%s'", s.Keyword, s.Args[0])
	}
	if n < lo || n > hi {
		return 0, errAt(s, "%s %d is outside range %d-%d", s.Keyword, n, lo, hi)
	}
	return n, nil
}

// timerArg reads a keepalived TIMER: seconds, possibly fractional.
func timerArg(s *kaconf.Stmt, zeroOK bool) (time.Duration, error) {
	if err := oneArg(s); err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s.Args[0], 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errAt(s, "%s: invalid time '%s' (seconds)", s.Keyword, s.Args[0])
	}
	d := time.Duration(f * float64(time.Second))
	if f < 0 || d > maxTimer || (!zeroOK && d < time.Microsecond) {
		return 0, errAt(s, "%s %s is out of range", s.Keyword, s.Args[0])
	}
	return d.Round(time.Microsecond), nil
}

// boolArg reads an optional keepalived BOOL (no argument means true).
func boolArg(s *kaconf.Stmt) (bool, error) {
	if len(s.Args) == 0 {
		return true, nil
	}
	switch strings.ToLower(s.Args[0]) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, errAt(s, "%s: invalid boolean '%s'", s.Keyword, s.Args[0])
}

func ipv4(s *kaconf.Stmt, a string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(a)
	if err != nil {
		return netip.Addr{}, errAt(s, "invalid IP address '%s'", a)
	}
	if !ip.Is4() {
		return netip.Addr{}, errAt(s, "%s: lbd supports IPv4 addresses only", a)
	}
	return ip, nil
}

func addrPort(s *kaconf.Stmt, addr, port string) (netip.AddrPort, error) {
	ip, err := ipv4(s, addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return netip.AddrPort{}, errAt(s, "invalid port '%s'", port)
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// statusRange reads "200" or "200-299".
func statusRange(s *kaconf.Stmt, a string) (StatusRange, error) {
	lo, hi, isRange := strings.Cut(a, "-")
	if !isRange {
		hi = lo
	}
	l, err1 := strconv.Atoi(lo)
	h, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
		return StatusRange{}, errAt(s, "invalid status_code '%s' (CODE or LO-HI within 100-599)", a)
	}
	return StatusRange{l, h}, nil
}

// argOr returns the first argument of s, or def when it has none.
func argOr(s *kaconf.Stmt, def string) string {
	if len(s.Args) == 0 {
		return def
	}
	return s.Args[0]
}

// lastArg returns the first argument of the last statement named kw in block.
func lastArg(block []*kaconf.Stmt, kw string) string {
	v := ""
	for _, s := range block {
		if s.Keyword == kw {
			v = argOr(s, v)
		}
	}
	return v
}
