package haproxycfg

import (
	"fmt"
	"net/netip"
)

// Resolve looks up the server names of the configuration once, as
// haproxy does when it reads its configuration, and fills Server.IP.
// lookup is net.LookupHost in production. Failures are Alerts worded as
// haproxy's.
func (c *Config) Resolve(lookup func(string) ([]string, error)) error {
	var alerts Alerts
	for _, px := range c.Proxies {
		for _, s := range px.Servers {
			if err := resolveServer(s, lookup); err != nil {
				alerts = append(alerts, &Alert{Msg: fmt.Sprintf("[%s] : 'server %s/%s' : could not resolve address '%s'.",
					s.Pos, px.Name, s.Name, s.Host)})
			}
		}
	}
	if len(alerts) > 0 {
		return append(alerts, &Alert{Msg: "Failed to initialize server(s) addr."})
	}
	return nil
}

func resolveServer(s *Server, lookup func(string) ([]string, error)) error {
	if a, err := netip.ParseAddr(s.Host); err == nil {
		s.IP = a.String()
		return nil
	}
	addrs, err := lookup(s.Host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("could not resolve address '%s'", s.Host)
	}
	// Prefer IPv4, as haproxy does by default.
	s.IP = addrs[0]
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
			s.IP = a
			break
		}
	}
	return nil
}

// validate runs the whole-configuration checks HAProxy does after parsing:
// backends referenced must exist and have the frontend's mode, proxies
// need listeners, settings needing "mode http" are reported.
func (p *parser) validate() {
	for _, px := range p.cfg.Proxies {
		if px.Cap&CapFrontend != 0 {
			p.validateFrontend(px)
		}
		if px.Cap&CapBackend != 0 {
			p.validateBackend(px)
		}
		if px.Cap&CapBackend != 0 || px.Cap&CapFrontend != 0 {
			p.timeoutWarnings(px)
		}
	}
}

func (p *parser) findBackend(px *Proxy, name string) (*Proxy, error) {
	be := p.cfg.Proxy(name, CapBackend)
	if be == nil {
		return nil, fmt.Errorf("unable to find required default_backend: '%s'", name)
	}
	return be, nil
}

func (p *parser) checkModes(fe, be *Proxy, what string) {
	if fe.Mode == ModeHTTP && be.Mode != ModeHTTP {
		p.alerts = append(p.alerts, &Alert{Msg: fmt.Sprintf("http frontend '%s' (%s) tries to use incompatible tcp backend '%s' (%s) as its %s (see 'mode').",
			fe.Name, fe.Pos, be.Name, be.Pos, what)})
	}
}

func (p *parser) validateFrontend(px *Proxy) {
	if len(px.Binds) == 0 {
		p.alerts = append(p.alerts, &Alert{Msg: fmt.Sprintf("Proxy '%s' has no 'bind' directive. Please declare it as a backend if this was intended.", px.Name)})
		return
	}
	if px.DefaultBackend != "" {
		be, err := p.findBackend(px, px.DefaultBackend)
		if err != nil {
			p.alerts = append(p.alerts, &Alert{Msg: fmt.Sprintf("Proxy '%s': %v.", px.Name, err)})
		} else {
			p.checkModes(px, be, "default backend")
		}
	}
	for _, ub := range px.UseBackends {
		be := p.cfg.Proxy(ub.Backend, CapBackend)
		if be == nil {
			p.alerts = append(p.alerts, &Alert{Msg: fmt.Sprintf("Proxy '%s': unable to find required use_backend: '%s'.", px.Name, ub.Backend)})
			continue
		}
		p.checkModes(px, be, "backend")
	}
	if px.Mode != ModeHTTP {
		if len(px.HTTPRequest) > 0 {
			p.warn(Pos{}, "'http-request' rules ignored for %s '%s' as they require HTTP mode.", px.Kind(), px.Name)
			px.HTTPRequest, px.Services = nil, nil
		}
		if px.ForwardFor != nil {
			p.warn(Pos{}, "'option forwardfor' ignored for %s '%s' as it requires HTTP mode.", px.Kind(), px.Name)
			px.ForwardFor = nil
		}
	}
}

func (p *parser) validateBackend(px *Proxy) {
	if px.Mode != ModeHTTP {
		if px.Cookie != nil {
			p.warn(Pos{}, "cookie will be ignored for %s '%s' (needs 'mode http').", px.Kind(), px.Name)
			px.Cookie = nil
		}
		if len(px.HTTPResponse) > 0 {
			p.warn(Pos{}, "'http-response' rules ignored for %s '%s' as they require HTTP mode.", px.Kind(), px.Name)
			px.HTTPResponse = nil
		}
		for _, s := range px.Servers {
			if s.Cookie != "" {
				p.warn(Pos{}, "%s '%s' : ignoring cookie for server '%s' as HTTP mode is disabled.", px.Kind(), px.Name, s.Name)
			}
		}
	}
	if px.HTTPCheck != nil && px.HTTPCheck.Method == "" {
		p.warn(px.Pos, "'http-check expect' ignored for %s '%s' without 'option httpchk'.", px.Kind(), px.Name)
		px.HTTPCheck = nil
	}
}

func (p *parser) timeoutWarnings(px *Proxy) {
	t := px.Timeouts
	missing := false
	if px.Cap&CapFrontend != 0 && t.Client == 0 {
		missing = true
	}
	if px.Cap&CapBackend != 0 && (t.Connect == 0 || t.Server == 0) {
		missing = true
	}
	if missing {
		p.warn(Pos{}, "missing timeouts for %s '%s'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.",
			px.Kind(), px.Name)
	}
}
