package scenarios

import (
	"fmt"
	"strings"
)

// Describe renders a step on one line for progress output and reports.
func (s *Step) Describe() string {
	d := s.describe()
	if s.Name != "" {
		d = s.Name + ": " + d
	}
	return d
}

func (s *Step) describe() string {
	switch {
	case s.Traffic != nil:
		t := s.Traffic
		target := t.URL
		if target == "" {
			target = "connect " + t.Connect
		}
		length := t.Duration.D().String()
		if t.Count > 0 {
			length = fmt.Sprintf("%d probes", t.Count)
		}
		rate := t.Rate
		if rate == 0 {
			rate = 10
		}
		return fmt.Sprintf("traffic %s from %s to %s, %g/s for %s", t.Name, t.From, target, rate, length)
	case s.Signal != nil:
		who := s.Signal.Daemon
		if who == "" {
			who = "process " + s.Signal.Process
		}
		return fmt.Sprintf("signal %s %s on %s", strings.ToUpper(s.Signal.Signal), who, s.Signal.Node)
	case s.Stop != nil:
		return fmt.Sprintf("stop %s on %s", s.Stop.Daemon, s.Stop.Node)
	case s.Start != nil:
		return fmt.Sprintf("start %s on %s", s.Start.Daemon, s.Start.Node)
	case s.Restart != nil:
		return fmt.Sprintf("restart %s on %s", s.Restart.Daemon, s.Restart.Node)
	case s.LinkDown != nil:
		return fmt.Sprintf("link down %s:%s", s.LinkDown.Node, s.LinkDown.Iface)
	case s.LinkUp != nil:
		return fmt.Sprintf("link up %s:%s", s.LinkUp.Node, s.LinkUp.Iface)
	case s.Crash != "":
		return "crash " + s.Crash
	case s.Recover != "":
		return "recover " + s.Recover
	case s.Partition != nil:
		var gs []string
		for _, g := range s.Partition.Groups {
			gs = append(gs, "["+strings.Join(g, " ")+"]")
		}
		return "partition " + strings.Join(gs, " | ")
	case s.Heal:
		return "heal partitions"
	case s.BlockVRRP != nil:
		return "block VRRP between " + strings.Join(s.BlockVRRP, ", ")
	case s.UnblockVRRP:
		return "unblock VRRP"
	case s.Loss != nil:
		return fmt.Sprintf("loss %d%% on %s:%s", s.Loss.Percent, s.Loss.Node, s.Loss.Iface)
	case s.Bandwidth != nil:
		return fmt.Sprintf("bandwidth %s on %s:%s", s.Bandwidth.Rate, s.Bandwidth.Node, s.Bandwidth.Iface)
	case s.Pause > 0:
		return "pause " + s.Pause.String()
	case s.Wait != nil:
		return "wait " + s.Wait.Describe()
	case s.Expect != nil:
		return "expect " + s.Expect.Describe()
	}
	return "?"
}

// Describe renders an expectation on one line.
func (e *Expect) Describe() string {
	var d string
	switch e.Kind() {
	case "vip":
		switch {
		case e.Holder != "":
			d = fmt.Sprintf("VIP %s held by %s", e.VIP, e.Holder)
		case e.OneHolder:
			d = fmt.Sprintf("VIP %s held by exactly one node", e.VIP)
		default:
			d = fmt.Sprintf("VIP %s in split brain", e.VIP)
		}
	case "traffic":
		var checks []string
		if e.MaxFailures != nil {
			checks = append(checks, fmt.Sprintf("at most %d failures", *e.MaxFailures))
		}
		if e.LongestOutageUnder > 0 {
			checks = append(checks, "outage < "+e.LongestOutageUnder.D().String())
		}
		if e.MinSuccessRatio != nil {
			checks = append(checks, fmt.Sprintf("success >= %g", *e.MinSuccessRatio))
		}
		if e.Spread != nil {
			checks = append(checks, fmt.Sprintf("spread over %s ±%g%%", strings.Join(e.Spread.Apps, ","), e.Spread.Tolerance*100))
		}
		if e.Apps != nil {
			checks = append(checks, "only "+strings.Join(e.Apps, ","))
		}
		if e.Sticky != "" {
			checks = append(checks, "sticky by "+e.Sticky)
		}
		if e.SetCookie != "" {
			checks = append(checks, "Set-Cookie ~ "+e.SetCookie)
		}
		for _, h := range sortedKeys(e.Headers) {
			checks = append(checks, h+" ~ "+e.Headers[h])
		}
		if e.ClientAddrSeen {
			checks = append(checks, "client address seen")
		}
		if e.Status != 0 {
			checks = append(checks, fmt.Sprintf("status %d", e.Status))
		}
		if len(checks) == 0 {
			return "traffic " + e.Traffic + " to end"
		}
		d = "traffic " + e.Traffic + ": " + strings.Join(checks, ", ")
	case "log":
		src := e.Log.Daemon
		if src == "" {
			src = e.Log.File
		}
		d = fmt.Sprintf("log of %s on %s ~ %s", src, e.Log.Node, e.Log.Match)
	case "state":
		d = fmt.Sprintf("%s is %s", e.State.Node, e.State.Is)
	case "trace":
		d = fmt.Sprintf("trace of %d packets", len(e.Trace))
	case "no_trace":
		d = "no such packet"
	}
	if e.Within > 0 {
		d += " within " + e.Within.D().String()
	}
	return d
}
