package vrrpd

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"halab/internal/kaconf"
)

// Argument helpers.

func needArgs(s *kaconf.Stmt, n int) error {
	if len(s.Args) < n {
		return fail(s, "%s needs %d argument(s)", s.Keyword, n)
	}
	return nil
}

func intArg(s *kaconf.Stmt, lo, hi int) (int, error) {
	if err := needArgs(s, 1); err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s.Args[0])
	if err != nil || v < lo || v > hi {
		return 0, fail(s, "%s '%s' must be an integer in %d..%d", s.Keyword, s.Args[0], lo, hi)
	}
	return v, nil
}

func secondsArg(s *kaconf.Stmt, lo, hi float64) (time.Duration, error) {
	if err := needArgs(s, 1); err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s.Args[0], 64)
	if err != nil || v < lo || v > hi || v != v {
		return 0, fail(s, "%s '%s' must be seconds in %g..%g", s.Keyword, s.Args[0], lo, hi)
	}
	return time.Duration(v*1e6+0.5) * time.Microsecond, nil
}

func boolArg(s *kaconf.Stmt) (bool, error) {
	if len(s.Args) == 0 {
		return true, nil
	}
	switch strings.ToLower(s.Args[0]) {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fail(s, "%s '%s' is not a boolean (on|off|true|false|yes|no)", s.Keyword, s.Args[0])
}

func addrArg(s *kaconf.Stmt) (netip.Addr, error) {
	if err := needArgs(s, 1); err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(s.Args[0])
	if err != nil {
		return a, fail(s, "%s: invalid address '%s'", s.Keyword, s.Args[0])
	}
	return a, nil
}

// scriptArg returns a notify script; user/group arguments are ignored.
func scriptArg(s *kaconf.Stmt) (string, error) {
	if err := needArgs(s, 1); err != nil {
		return "", err
	}
	return s.Args[0], nil
}

func durPtr(d time.Duration, err error) (*time.Duration, error) { return &d, err }
func intPtr(v int, err error) (*int, error)                     { return &v, err }
