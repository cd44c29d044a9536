package ui

import (
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"slices"
	"strings"
	"time"
)

// stateColors are the colours of VRRP states, shared with the page.
var stateColors = map[string]string{
	"MASTER":  "#2e9d4f",
	"BACKUP":  "#4a7bd0",
	"FAULT":   "#e08a1e",
	"INIT":    "#bbbbbb",
	"STOPPED": "#a05ec8",
	"NONE":    "#dddddd",
	"UNKNOWN": "#cccccc",
}

// appColor gives every app a stable colour.
func appColor(app string) string {
	palette := []string{"#2e86de", "#10ac84", "#f39c12", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#c0392b"}
	h := fnv.New32a()
	h.Write([]byte(app))
	return palette[h.Sum32()%uint32(len(palette))]
}

// RenderTimeline writes the timeline as a self-contained HTML fragment: an
// SVG with a lane per VRRP node (state colours), a strip of request
// outcomes (colour per app, failures red) and fault markers, then the list
// of events, latest first. The live page and the HTML report share it.
func RenderTimeline(w io.Writer, tl Timeline) error {
	const (
		width  = 900
		left   = 110
		laneH  = 18
		gap    = 6
		axisH  = 18
		maxRow = 300
	)
	e := html.EscapeString
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	span := tl.End.Sub(tl.Start)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) float64 {
		f := float64(t.Sub(tl.Start)) / float64(span)
		return left + f*float64(width-left-10)
	}
	rows := len(tl.Lanes) + 1
	height := axisH + rows*(laneH+gap) + 8
	p(`<div class="timeline">`)
	p(`<svg class="timeline-svg" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg" font-family="DejaVu Sans, Verdana, sans-serif">`, width, height)
	// Axis: a tick every "nice" interval.
	step := niceStep(span)
	for t := tl.Start.Truncate(step).Add(step); !t.After(tl.End); t = t.Add(step) {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`, x(t), axisH-4, x(t), height)
		p(`<text x="%.1f" y="%d" font-size="10" fill="#777" text-anchor="middle">%s</text>`, x(t), axisH-6, t.Format("15:04:05"))
	}
	y := axisH
	for _, lane := range tl.Lanes {
		p(`<text x="4" y="%d" font-size="11" fill="#222">%s</text>`, y+laneH-5, e(lane.Name))
		for _, s := range lane.Spans {
			x1, x2 := x(s.From), x(s.To)
			if x2-x1 < 1 {
				x2 = x1 + 1
			}
			col := stateColors[s.State]
			if col == "" {
				col = "#cccccc"
			}
			p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s from %s to %s</title></rect>`,
				x1, y, x2-x1, laneH, col, e(lane.Name), e(s.State), s.From.Format("15:04:05.000"), s.To.Format("15:04:05.000"))
			if x2-x1 > 50 {
				p(`<text x="%.1f" y="%d" font-size="10" fill="#fff">%s</text>`, x1+3, y+laneH-5, e(s.State))
			}
		}
		y += laneH + gap
	}
	p(`<text x="4" y="%d" font-size="11" fill="#222">requests</text>`, y+laneH-5)
	for _, r := range tl.Requests {
		col := "#d63031"
		if r.OK {
			col = appColor(r.App)
		}
		h, top := laneH, y
		if !r.OK {
			h, top = laneH+4, y-2
		}
		p(`<rect x="%.1f" y="%d" width="2" height="%d" fill="%s"/>`, x(r.Time), top, h, col)
	}
	for _, ev := range tl.Events {
		if ev.Kind != "fault" {
			continue
		}
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d63031" stroke-dasharray="3 2"><title>%s</title></line>`,
			x(ev.Time), axisH-4, x(ev.Time), height, e(ev.Text))
		p(`<text x="%.1f" y="%d" font-size="10" fill="#d63031">&#9889;</text>`, x(ev.Time)+2, axisH+8)
	}
	p(`</svg>`)
	p(`<ol class="timeline-events" reversed>`)
	evs := tl.Events
	if len(evs) > maxRow {
		evs = evs[len(evs)-maxRow:]
	}
	for _, ev := range slices.Backward(evs) {
		p(`<li class="ev-%s"><time>%s</time> <span class="kind">%s</span> %s</li>`,
			e(ev.Kind), ev.Time.Format("15:04:05.000"), e(ev.Kind), e(ev.Text))
	}
	p(`</ol></div>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep picks an axis interval giving at most about ten ticks.
func niceStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour} {
		if span/s <= 10 {
			return s
		}
	}
	return time.Hour
}
