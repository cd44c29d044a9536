package haproxycfg

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// parseTime reads a HAProxy time value: digits then an optional unit among
// us, ms, s, m, h, d (milliseconds by default). The error names the first
// unexpected character as HAProxy does.
func parseTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		if s == "" {
			return 0, fmt.Errorf("missing value")
		}
		return 0, fmt.Errorf("unexpected character '%c'", s[0])
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > 1<<31 {
		return 0, fmt.Errorf("timer overflow")
	}
	unit := time.Millisecond
	switch s[i:] {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		rest := s[i:]
		for _, u := range []string{"ms", "us", "s", "m", "h", "d"} {
			if strings.HasPrefix(rest, u) {
				rest = rest[len(u):]
				break
			}
		}
		if rest == "" {
			rest = s[i:]
		}
		return 0, fmt.Errorf("unexpected character '%c'", rest[0])
	}
	return time.Duration(n) * unit, nil
}

// splitHostPort cuts "host:port", "*:port", ":port", "[v6]:port" or a bare
// host (port 0, allowed for servers). It checks the port as HAProxy does.
func splitHostPort(addr string, needPort bool) (host string, port int, err error) {
	if strings.Contains(addr, "@") {
		return "", 0, fmt.Errorf("address family prefix in '%s' is not supported by lbd", addr)
	}
	h, p, serr := net.SplitHostPort(addr)
	if serr != nil {
		if needPort {
			return "", 0, fmt.Errorf("missing port number: '%s'", addr)
		}
		if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
			addr = addr[1 : len(addr)-1]
		}
		if strings.Count(addr, ":") == 1 {
			// "host:" with an empty port, or a malformed host.
			return "", 0, fmt.Errorf("invalid address: '%s'", addr)
		}
		return addr, 0, nil
	}
	if h == "*" {
		h = ""
	}
	if p == "" {
		if needPort {
			return "", 0, fmt.Errorf("missing port number: '%s'", addr)
		}
		return h, 0, nil
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			if c == '-' || c == '+' {
				return "", 0, fmt.Errorf("port ranges and offsets are not supported by lbd: '%s'", addr)
			}
			return "", 0, fmt.Errorf("invalid character '%c' in port number '%s' in '%s'", c, p, addr)
		}
	}
	n, _ := strconv.Atoi(p)
	if len(p) > 6 || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("invalid port '%s'", p)
	}
	return h, n, nil
}

// atoi reads a number as C's atoi does, which is how HAProxy reads some
// keyword arguments: an optional sign and the digits that follow, 0 when
// there are none; what comes after them is ignored.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<31; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}
