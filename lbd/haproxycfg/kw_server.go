package haproxycfg

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Server defaults as in HAProxy.
const (
	defaultInter = 2 * time.Second
	defaultRise  = 2
	defaultFall  = 3
	// defaultPoolPurgeDelay is pool-purge-delay's default
	defaultPoolPurgeDelay = 5 * time.Second
)

func (p *parser) server(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 3 {
		p.alert(l.Pos, "'server' expects <name> and <addr>[:<port>] as arguments.")
		return
	}
	name := w[1]
	where := fmt.Sprintf("'server %s/%s'", px.Name, name)
	for _, s := range px.Servers {
		if s.Name == name {
			p.alert(l.Pos, "backend '%s', another server named '%s' was already defined at line %d, please use distinct names.",
				px.Name, name, s.Pos.Line)
			return
		}
	}
	host, port, err := splitHostPort(w[2], false)
	if err != nil {
		p.alerts = append(p.alerts, &Alert{Msg: fmt.Sprintf("[%s] : %s : %v", l.Pos, where, err)})
		return
	}
	s := &Server{Pos: l.Pos, Name: name, Addr: w[2], Host: host, Port: port,
		Inter: defaultInter, Rise: defaultRise, Fall: defaultFall, Weight: 1,
		PoolMaxConn: -1, PoolPurgeDelay: defaultPoolPurgeDelay}
	srvErr := func(format string, args ...any) {
		p.alerts = append(p.alerts, &Alert{Msg: fmt.Sprintf("[%s] : %s : ", l.Pos, where) + fmt.Sprintf(format, args...)})
	}
	for i := 3; i < len(w); i++ {
		kw := w[i]
		needArg := map[string]bool{"port": true, "inter": true, "fastinter": true, "downinter": true,
			"rise": true, "fall": true, "weight": true, "cookie": true, "maxconn": true,
			"slowstart": true, "on-error": true, "on-marked-down": true, "on-marked-up": true,
			"error-limit": true, "observe": true, "addr": true, "id": true, "agent-port": true,
			"agent-inter": true, "check-sni": true, "sni": true, "minconn": true, "maxqueue": true,
			"pool-max-conn": true, "pool-purge-delay": true, "pool-low-conn": true, "source": true, "resolvers": true,
			"init-addr": true, "proto": true, "alpn": true, "verify": true, "resolve-prefer": true}[kw]
		arg := ""
		if needArg {
			if i+1 >= len(w) {
				if strings.HasPrefix(kw, "pool-") {
					srvErr("'%s' expects <value> as argument..", kw)
				} else {
					srvErr("'%s' expects an argument.", kw)
				}
				return
			}
			arg = w[i+1]
			i++
		}
		num := func(min, max int) (int, bool) {
			n, err := strconv.Atoi(arg)
			if err != nil || n < min || n > max {
				return 0, false
			}
			return n, true
		}
		dur := func() (time.Duration, bool) {
			d, err := parseTime(arg)
			if err != nil {
				srvErr("%v in '%s' argument of server %s..", err, kw, name)
				return 0, false
			}
			if d <= 0 {
				srvErr("invalid value %s for argument '%s' of server %s.", arg, kw, name)
				return 0, false
			}
			return d, true
		}
		var ok = true
		switch kw {
		case "check":
			s.Check = true
		case "no-check":
			s.Check = false
		case "backup":
			s.Backup = true
		case "disabled":
			s.Disabled = true
		case "enabled":
			s.Disabled = false
		case "port":
			s.CheckPort, ok = num(1, 65535)
			if !ok {
				srvErr("invalid port '%s'.", arg)
			}
		case "inter":
			s.Inter, ok = dur()
		case "fastinter":
			s.FastInter, ok = dur()
		case "downinter":
			s.DownInter, ok = dur()
		case "rise":
			s.Rise, ok = num(1, 1<<30)
			if !ok {
				srvErr("'rise' has to be > 0.")
			}
		case "fall":
			s.Fall, ok = num(1, 1<<30)
			if !ok {
				srvErr("'fall' has to be >= 1.")
			}
		case "weight":
			var n int
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 || n > 256 {
				srvErr("weight of server %s is not within 0 and 256 (%s)..", name, arg)
				return
			}
			s.Weight = n
		case "cookie":
			s.Cookie = arg
		case "maxconn":
			s.MaxConn, ok = num(0, 1<<30)
			if !ok {
				srvErr("'maxconn' expects an integer argument.")
			}
		case "pool-max-conn":
			s.PoolMaxConn = atoi(arg)
			if s.PoolMaxConn < -1 {
				srvErr("'%s' must be >= -1.", kw)
				return
			}
		case "pool-low-conn":
			s.PoolLowConn = atoi(arg)
		case "pool-purge-delay":
			d, err := parseTime(arg)
			switch {
			case err != nil && err.Error() == "timer overflow":
				srvErr("timer overflow in argument '%s' to '%s' (maximum value is 2147483647 ms or ~24.8 days)", arg, kw)
				return
			case err != nil:
				srvErr("%v in argument to <%s>..", err, kw)
				return
			}
			s.PoolPurgeDelay = d
		case "slowstart", "on-error", "on-marked-down", "on-marked-up", "error-limit", "observe",
			"addr", "id", "agent-port", "agent-inter", "check-sni", "sni", "minconn", "maxqueue",
			"source", "resolvers", "init-addr", "proto", "alpn",
			"send-proxy", "send-proxy-v2", "no-send-proxy", "check-send-proxy",
			"verify", "resolve-prefer", "non-stick", "tfo", "redir", "no-backup", "ssl", "no-ssl", "agent-check":
			// Accepted without effect in lbd.
		default:
			srvErr("unknown keyword '%s'.", kw)
			return
		}
		if !ok {
			return
		}
	}
	px.Servers = append(px.Servers, s)
}
