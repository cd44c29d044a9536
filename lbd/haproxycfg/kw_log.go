package haproxycfg

import (
	"net"
	"strings"
)

// syslogFacilities are the facility names haproxy accepts.
var syslogFacilities = []string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var syslogLevels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// logTarget parses "log ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]".
// ADDR is host[:port] (UDP, port 514 by default), "udp@host:port",
// "stdout" or "stderr". Unix sockets and rings are not supported.
func (p *parser) logTarget(l Line) (LogTarget, bool) {
	w := l.Words
	if len(w) < 3 {
		p.alert(l.Pos, "'log' expects either <address[:port]> and <facility> or 'global' as arguments.")
		return LogTarget{}, false
	}
	t := LogTarget{Pos: l.Pos, Level: 7}
	addr := strings.TrimPrefix(w[1], "udp@")
	addr = strings.TrimPrefix(addr, "udp4@")
	switch {
	case addr == "stdout" || addr == "stderr":
		t.Addr = addr
	case strings.HasPrefix(addr, "/") || strings.Contains(addr, "@"):
		p.alert(l.Pos, "'log %s' : unix sockets, rings and fd targets are not supported by lbd.", w[1])
		return LogTarget{}, false
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "514")
		}
		t.Addr = addr
	}
	rest := w[2:]
	for len(rest) >= 2 && (rest[0] == "len" || rest[0] == "format" || rest[0] == "sample") {
		if rest[0] == "format" {
			switch rest[1] {
			case "raw", "short":
				t.Raw = true
			case "rfc3164", "local":
			default:
				p.alert(l.Pos, "unknown log format '%s' (lbd knows raw, short, rfc3164, local).", rest[1])
				return LogTarget{}, false
			}
		}
		rest = rest[2:]
	}
	if len(rest) == 0 {
		p.alert(l.Pos, "'log' expects <facility> as argument.")
		return LogTarget{}, false
	}
	t.Facility = -1
	for i, f := range syslogFacilities {
		if f == rest[0] {
			t.Facility = i
		}
	}
	if t.Facility < 0 {
		p.alert(l.Pos, "unknown log facility '%s'", rest[0])
		return LogTarget{}, false
	}
	if len(rest) > 1 {
		t.Level = -1
		for i, lv := range syslogLevels {
			if lv == rest[1] {
				t.Level = i
			}
		}
		if t.Level < 0 {
			p.alert(l.Pos, "unknown optional log level '%s'", rest[1])
			return LogTarget{}, false
		}
	}
	return t, true
}
