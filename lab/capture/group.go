package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Group runs several captures together (for example every interface of a
// scenario) and merges their packets in time order.
type Group struct {
	caps []*Capture
}

// StartGroup starts a capture per spec. If one fails, those already
// started are stopped and the error is returned.
func StartGroup(ctx context.Context, specs []Spec) (*Group, error) {
	g := &Group{}
	for _, s := range specs {
		c, err := Start(ctx, s)
		if err != nil {
			_, _ = g.Stop()
			return nil, err
		}
		g.caps = append(g.caps, c)
	}
	return g, nil
}

// Captures returns the group's captures in the order of their specs.
func (g *Group) Captures() []*Capture { return append([]*Capture(nil), g.caps...) }

// Packets returns the packets kept so far by every capture, merged in
// time order.
func (g *Group) Packets() []Packet {
	lists := make([][]Packet, len(g.caps))
	for i, c := range g.caps {
		lists[i] = c.Packets()
	}
	return Merge(lists...)
}

// Stats returns the counts of every capture so far.
func (g *Group) Stats() []Stats {
	out := make([]Stats, len(g.caps))
	for i, c := range g.caps {
		out[i] = c.Stats()
	}
	return out
}

// Stop stops every capture and returns their final counts; the error joins
// the captures' errors (a *DropError for each capture that lost packets).
func (g *Group) Stop() ([]Stats, error) {
	var errs []error
	out := make([]Stats, len(g.caps))
	for i, c := range g.caps {
		st, err := c.Stop()
		out[i] = st
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// WriteText writes packets that pass filter as trace lines ([FormatLine]),
// one per line.
func WriteText(w io.Writer, packets []Packet, filter Filter) error {
	for i := range packets {
		if !filter.Match(&packets[i]) {
			continue
		}
		if _, err := fmt.Fprintln(w, FormatLine(&packets[i])); err != nil {
			return fmt.Errorf("trace: write: %w", err)
		}
	}
	return nil
}

// FormatStats renders counts as tcpdump's summary does:
// "12 packets captured on nginx01:eth0, 0 dropped by kernel".
func FormatStats(s Stats) string {
	return fmt.Sprintf("%d packets captured on %s, %d dropped by kernel", s.Captured, Label(s.Node, s.Iface), s.Dropped)
}
