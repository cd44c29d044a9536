package haproxycfg

import (
	"fmt"
	"strings"
)

// Pos is a place in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Alert is one fatal configuration problem, worded as HAProxy words it.
// Parsing alerts print as "parsing [FILE:LINE] : reason"; alerts found
// while checking the whole configuration carry no position.
type Alert struct {
	Pos Pos
	Msg string
}

func (a *Alert) Error() string {
	if a.Pos.File == "" {
		return a.Msg
	}
	return fmt.Sprintf("parsing [%s] : %s", a.Pos, a.Msg)
}

// Alerts collects every fatal problem found in a configuration.
type Alerts []*Alert

func (as Alerts) Error() string {
	msgs := make([]string, len(as))
	for i, a := range as {
		msgs[i] = a.Error()
	}
	return strings.Join(msgs, "\n")
}

// Warning is a non-fatal remark about a configuration.
type Warning struct {
	Pos Pos
	Msg string
}

func (w Warning) String() string {
	if w.Pos.File == "" {
		return w.Msg
	}
	return fmt.Sprintf("parsing [%s] : %s", w.Pos, w.Msg)
}

func alertf(p Pos, format string, args ...any) *Alert {
	return &Alert{Pos: p, Msg: fmt.Sprintf(format, args...)}
}
