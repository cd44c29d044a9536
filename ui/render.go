package ui

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"

	"halab/reports"
)

// maxListed is how many events the timeline's list shows.
const maxListed = 300

// renderTimeline writes the page's timeline panel: the timeline drawn by
// reports.TimelineSVG (the HTML report's drawing), then the events, latest
// first.
func renderTimeline(w io.Writer, r *recorder) error {
	tl := r.snapshot(time.Now())
	var b strings.Builder
	b.WriteString(`<div class="timeline">`)
	b.WriteString(string(reports.TimelineSVG(tl)))
	b.WriteString(`<ol class="timeline-events" reversed>`)
	evs := r.recentEvents(maxListed)
	e := html.EscapeString
	for _, ev := range slices.Backward(evs) {
		fmt.Fprintf(&b, `<li class="ev-%s"><time>%s</time> <span class="kind">%s</span> %s</li>`,
			e(ev.Kind), ev.Time.Format("15:04:05.000"), e(ev.Kind), e(ev.Text))
	}
	b.WriteString(`</ol></div>`)
	_, err := io.WriteString(w, b.String())
	return err
}
