package haproxycfg

import (
	"fmt"
	"regexp"
	"strconv"
)

// httpRule parses the http-request and http-response header actions lbd
// runs, plus "http-request use-service", "deny" and "allow".
func (p *parser) httpRule(px *Proxy, l Line) {
	w := l.Words
	dir := w[0]
	if len(w) < 2 {
		p.alert(l.Pos, "'%s' expects at least one action.", dir)
		return
	}
	r := &HTTPRule{Pos: l.Pos, Action: w[1]}
	fail := func(format string, args ...any) {
		p.alert(l.Pos, "error detected in %s '%s' while parsing '%s %s' rule : %s.",
			px.Kind(), px.Name, dir, r.Action, fmt.Sprintf(format, args...))
	}
	// args are the words up to the condition.
	args := w[2:]
	rest := []string(nil)
	for i, x := range args {
		if x == "if" || x == "unless" {
			args, rest = args[:i], args[i:]
			break
		}
	}
	switch r.Action {
	case "set-header", "add-header":
		if len(args) != 2 {
			fail("expects exactly 2 arguments")
			return
		}
		r.Name, r.Value = args[0], args[1]
	case "del-header":
		if len(args) != 1 {
			fail("expects exactly 1 arguments")
			return
		}
		r.Name = args[0]
	case "replace-header", "replace-value":
		if len(args) != 3 {
			fail("expects exactly 3 arguments")
			return
		}
		re, err := regexp.Compile(args[1])
		if err != nil {
			fail("regex '%s' is invalid (error=%v)", args[1], err)
			return
		}
		r.Name, r.Regexp, r.Value = args[0], re, args[2]
	case "use-service":
		if dir != "http-request" {
			fail("unknown action")
			return
		}
		if len(args) != 1 {
			fail("expects a service name")
			return
		}
		switch args[0] {
		case "prometheus-exporter":
		default:
			fail("'%s' unknown service name", args[0])
			return
		}
		r.Service = args[0]
	case "deny":
		r.Status = 403
		if dir == "http-response" {
			r.Status = 502
		}
		if len(args) == 2 && args[0] == "deny_status" {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 200 || n > 599 {
				fail("status code must be between 200 and 599")
				return
			}
			r.Status = n
		} else if len(args) != 0 {
			fail("expects no argument or 'deny_status <status>'")
			return
		}
	case "allow":
		if len(args) != 0 {
			fail("expects no argument")
			return
		}
	default:
		p.alert(l.Pos, "'%s' expects 'set-header', 'add-header', 'del-header', 'replace-header', 'replace-value', 'allow', 'deny' or 'use-service' (lbd subset) but got '%s'.", dir, r.Action)
		return
	}
	cond, err := parseCond(px, l.Pos, rest)
	if err != nil {
		fail("%v", err)
		return
	}
	r.Cond = cond
	if r.Action == "use-service" {
		px.Services = append(px.Services, UseService{Pos: l.Pos, Service: r.Service, Cond: cond})
	}
	if dir == "http-request" {
		px.HTTPRequest = append(px.HTTPRequest, r)
	} else {
		px.HTTPResponse = append(px.HTTPResponse, r)
	}
}
