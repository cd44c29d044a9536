package reports

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"maps"
	"sort"
	"strings"
	"time"

	"halab/scenarios"
)

// Timeline geometry.
const (
	tlWidth  = 1000 // total width in px
	tlLabel  = 150  // label column
	tlLane   = 22   // lane height
	tlGap    = 6
	tlAxis   = 24
	tlMarker = 14 // room for fault labels on top
)

// stateColor colors VRRP states and VIP holdings. DOWN: no VRRP daemon
// runs; STOPPED: it is frozen (SIGSTOP); MIXED: its instances disagree.
var stateColor = map[string]string{
	"MASTER": "#2e9d48", "BACKUP": "#3b78c4", "FAULT": "#e38a1c", "INIT": "#b7b7b7",
	"DOWN": "#6b6b6b", "MIXED": "#9b59b6", "STOPPED": "#a05ec8", "UNKNOWN": "#cccccc",
}

// StateColors returns the colours the timeline gives VRRP states, for a
// page that draws states elsewhere in the same colours.
func StateColors() map[string]string { return maps.Clone(stateColor) }

// appPalette colours the apps that answer requests.
var appPalette = []string{"#2e86de", "#10ac84", "#f39c12", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#c0392b"}

// AppColor gives every app a stable colour: FNV-1a of its name over a
// palette (the teaching page's script computes the same).
func AppColor(app string) string {
	h := fnv.New32a()
	h.Write([]byte(app))
	return appPalette[h.Sum32()%uint32(len(appPalette))]
}

// TimelineSVG renders a run's timeline as an inline SVG: a lane of VRRP
// state per node, a lane per VIP with its holder (red in split brain), a
// lane per traffic source with every request (an answered request in the
// colour of the app that answered, failures red), and vertical markers for
// faults and failed expectations. Hovering shows details. It needs no
// script and no external resource: the HTML report and the teaching page
// (package ui, live) both draw their timeline with it.
func TimelineSVG(tl scenarios.Timeline) template.HTML {
	start, end := tl.Start, tl.End
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	span := end.Sub(start)
	x := func(t time.Time) float64 {
		if t.Before(start) {
			t = start
		}
		return tlLabel + float64(t.Sub(start))/float64(span)*float64(tlWidth-tlLabel-10)
	}
	lanes := len(tl.Nodes) + len(tl.VIPs) + len(tl.Traffic)
	height := tlMarker + lanes*(tlLane+tlGap) + tlAxis
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`,
		tlWidth, height, tlWidth, height)
	y := tlMarker
	lane := func(label string) {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text><rect x="%d" y="%d" width="%d" height="%d" fill="#f4f4f4"/>`,
			y+tlLane/2+4, esc(label), tlLabel, y, tlWidth-tlLabel-10, tlLane)
	}
	segment := func(from, to time.Time, color, text, title string) {
		x0, x1 := x(from), x(to)
		fmt.Fprintf(&b, `<g><title>%s</title><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`,
			esc(title), x0, y, max(x1-x0, 1), tlLane, color)
		if x1-x0 > float64(7*len(text)) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#fff">%s</text>`, x0+3, y+tlLane/2+4, esc(text))
		}
		b.WriteString(`</g>`)
	}
	// VRRP state per node.
	for _, node := range tl.Nodes {
		lane(node + " VRRP")
		eachSpan(tl.Samples, end, func(s scenarios.Sample) string { return s.VRRP[node] }, func(v string, from, to time.Time) {
			if v == "" {
				return
			}
			segment(from, to, colorOr(stateColor[v], "#999"), v, fmt.Sprintf("%s %s from +%s to +%s", node, v, rel(start, from), rel(start, to)))
		})
		y += tlLane + tlGap
	}
	// VIP holders.
	for _, vip := range tl.VIPs {
		lane("VIP " + vip)
		eachSpan(tl.Samples, end, func(s scenarios.Sample) string { return strings.Join(s.Holders[vip], " + ") }, func(v string, from, to time.Time) {
			color, text := "#2e9d48", v
			switch {
			case v == "":
				color, text = "#c9c9c9", "none"
			case strings.Contains(v, " + "):
				color = "#d43c3c"
				text = v + " (split brain)"
			}
			segment(from, to, color, text, fmt.Sprintf("VIP %s: %s from +%s to +%s", vip, text, rel(start, from), rel(start, to)))
		})
		y += tlLane + tlGap
	}
	// Requests.
	for _, rec := range tl.Traffic {
		reqs := rec.Requests()
		ok := 0
		for _, q := range reqs {
			if q.OK {
				ok++
			}
		}
		lane(fmt.Sprintf("%s %d/%d ok", rec.Name, ok, len(reqs)))
		for _, q := range reqs {
			color, what := "#2e9d48", q.App
			if q.App != "" {
				color = AppColor(q.App)
			}
			if !q.OK {
				color, what = "#d43c3c", q.Err
			}
			if what == "" {
				what = "ok"
			}
			x0 := x(q.Start)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>#%d +%s %s (%s)</title></rect>`,
				x0, y+3, max(x(q.Start.Add(q.Latency))-x0, 1.5), tlLane-6, color, q.Seq, rel(start, q.Start), esc(what), q.Latency.Round(time.Millisecond))
		}
		y += tlLane + tlGap
	}
	// Markers.
	for _, e := range tl.Events {
		if e.Kind != "fault" && e.Kind != "fail" {
			continue
		}
		color := "#333"
		if e.Kind == "fail" {
			color = "#d43c3c"
		}
		mx := x(e.Time)
		fmt.Fprintf(&b, `<g><title>+%s %s</title><line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="3,2"/><polygon points="%.1f,2 %.1f,2 %.1f,10" fill="%s"/></g>`,
			rel(start, e.Time), esc(e.Text), mx, tlMarker-2, mx, y, color, mx-4, mx+4, mx, color)
	}
	// Axis: a tick per second (or per 10 s on long runs).
	step := time.Second
	for span/step > 20 {
		step *= 5
	}
	for t := time.Duration(0); t <= span; t += step {
		tx := x(start.Add(t))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/><text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`,
			tx, y, tx, y+4, tx, y+16, t)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// eachSpan calls fn for each run of samples with the same value.
func eachSpan(samples []scenarios.Sample, end time.Time, value func(scenarios.Sample) string, fn func(v string, from, to time.Time)) {
	sorted := append([]scenarios.Sample(nil), samples...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	for i := 0; i < len(sorted); {
		v := value(sorted[i])
		j := i + 1
		for j < len(sorted) && value(sorted[j]) == v {
			j++
		}
		to := end
		if j < len(sorted) {
			to = sorted[j].Time
		}
		fn(v, sorted[i].Time, to)
		i = j
	}
}

func rel(start, t time.Time) string { return t.Sub(start).Round(10 * time.Millisecond).String() }

func esc(s string) string { return template.HTMLEscapeString(s) }

func colorOr(c, def string) string {
	if c == "" {
		return def
	}
	return c
}
