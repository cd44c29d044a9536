package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"halab/assert"
	"halab/lab/capture"
)

// check evaluates an expectation (or the condition of a wait) through
// package assert and returns the failure messages, none when it holds.
func (r *run) check(ctx context.Context, e *Expect, wait bool) []string {
	rec := &assert.Recorder{}
	within := e.Within.D()
	switch e.Kind() {
	case "vip":
		switch {
		case e.Holder != "":
			assert.VIPHolder(rec, r.mon, e.VIP, e.Holder, within)
		case e.OneHolder:
			assert.OneHolder(rec, r.mon, e.VIP, within)
		default:
			assert.SplitBrain(rec, r.mon, e.VIP, within)
		}
	case "traffic":
		tr := r.traffic[e.Traffic]
		select {
		case <-tr.Done():
		case <-ctx.Done():
			return []string{fmt.Sprintf("traffic %s had not ended when the run stopped: %v", e.Traffic, ctx.Err())}
		}
		if wait {
			return nil
		}
		a := assert.Traffic(rec, tr)
		if e.MaxFailures != nil {
			a.MaxFailures(*e.MaxFailures)
		}
		if e.LongestOutageUnder > 0 {
			a.LongestOutageUnder(e.LongestOutageUnder.D())
		}
		if e.MinSuccessRatio != nil {
			a.SuccessRatioAtLeast(*e.MinSuccessRatio)
		}
		if e.Spread != nil {
			a.Spread(e.Spread.Apps, e.Spread.Tolerance)
		}
		if e.Apps != nil {
			a.OnlyApps(e.Apps...)
		}
		switch e.Sticky {
		case "cookie":
			a.StickyByCookie()
		case "client":
			a.StickyByClient()
		}
		if e.SetCookie != "" {
			a.SetCookieMatches(e.SetCookie)
		}
		for _, h := range sortedKeys(e.Headers) {
			a.HeaderMatches(h, e.Headers[h])
		}
		if e.ClientAddrSeen {
			a.ClientAddrSeen()
		}
		if e.Status != 0 {
			a.StatusIs(e.Status)
		}
	case "log":
		path := ""
		if e.Log.Daemon != "" {
			path = r.ds.logPath(e.Log.Node, e.Log.Daemon)
		} else {
			path = filepath.Join(fmt.Sprintf("/proc/%d/root", r.l.MustNode(e.Log.Node).InitPID()), e.Log.File)
		}
		assert.LogLine(rec, path, e.Log.Match, within)
	case "state":
		instance := e.State.Instance
		if r.impl == ImplReference {
			instance = "" // derived from the VIPs: one pseudo-instance
		}
		assert.VRRPState(rec, r.mon, e.State.Node, instance, e.State.Is, within)
	case "trace", "no_trace":
		from := time.Time{}
		if e.Since != "start" {
			from = r.lastFault
		}
		if r.captures == nil {
			return []string{"no capture is running"}
		}
		if e.Kind() == "trace" {
			pats := make([]capture.Pattern, len(e.Trace))
			for i := range e.Trace {
				pats[i] = r.pattern(&e.Trace[i])
			}
			assert.TraceSequence(rec, r.captures, from, within, pats...)
		} else {
			assert.NoTrace(rec, r.captures, from, within, r.pattern(e.NoTrace))
		}
	}
	return rec.Failures
}

// pattern turns a trace pattern of the file into a capture.Pattern; node
// names match the node's MAC addresses (source) or addresses (destination).
func (r *run) pattern(p *TracePattern) capture.Pattern {
	var pat capture.Pattern
	switch {
	case p.VRRP:
		pat = capture.VRRPAdvert()
		if p.Priority != nil {
			pat = pat.Priority(uint8(*p.Priority))
		}
		if p.VRID != 0 {
			pat = pat.VRID(uint8(p.VRID))
		}
	case p.GARP != "":
		pat = capture.GratuitousARP(netip.MustParseAddr(p.GARP))
	case p.TCP != "":
		pat = capture.TCPSegment(tcpFlags(p.TCP))
	}
	if p.From != "" {
		if a, err := netip.ParseAddr(p.From); err == nil {
			pat = pat.From(a)
		} else {
			macs := r.macs(p.From)
			pat = pat.Where("from "+p.From, func(pk *capture.Packet) bool {
				return slices.Contains(macs, pk.SrcMAC.String())
			})
		}
	}
	if p.To != "" {
		if a, err := netip.ParseAddr(p.To); err == nil {
			pat = pat.To(a)
		} else {
			addrs := r.addrs(p.To)
			pat = pat.Where("to "+p.To, func(pk *capture.Packet) bool { return slices.Contains(addrs, pk.Dst()) })
		}
	}
	if p.Port != 0 {
		pat = pat.Port(uint16(p.Port))
	}
	if p.On != "" {
		node, iface, _ := strings.Cut(p.On, ":")
		pat = pat.On(node, iface)
	}
	return pat
}

func (r *run) macs(node string) []string {
	var out []string
	if ifs, err := r.l.MustNode(node).Interfaces(); err == nil {
		for _, i := range ifs {
			if hw, err := net.ParseMAC(i.MAC); err == nil {
				out = append(out, hw.String())
			}
		}
	}
	return out
}

func (r *run) addrs(node string) []netip.Addr {
	addrs, _ := nodeAddrs(r.l.MustNode(node))
	return addrs
}

// tcpFlags parses tcpdump-like flag letters (S, SA, FA, R...).
func tcpFlags(s string) capture.TCPFlags {
	var f capture.TCPFlags
	for _, c := range s {
		switch c {
		case 'S':
			f |= capture.FlagSYN
		case 'A':
			f |= capture.FlagACK
		case 'F':
			f |= capture.FlagFIN
		case 'R':
			f |= capture.FlagRST
		case 'P':
			f |= capture.FlagPSH
		case 'U':
			f |= capture.FlagURG
		}
	}
	return f
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
