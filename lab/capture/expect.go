package capture

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxSeen bounds how many packets a failure message lists.
const maxSeen = 20

// SequenceError says which step of an expected sequence was not seen and
// what the trace held instead.
type SequenceError struct {
	Step    int       // index of the first step not seen
	Steps   []Pattern // the whole expected sequence
	Matched []Packet  // the packets that matched steps before Step
	// From and Until bound where the step was looked for: after the
	// previous step's packet and before the first step's time plus within
	// (Until is zero when unbounded).
	From, Until time.Time
	// Seen are the packets in that span, those of the step's protocol
	// first when the step names one (at most 20 are kept; SeenTotal counts
	// them all).
	Seen      []Packet
	SeenTotal int
	Total     int // packets in the trace
}

func (e *SequenceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace: step %d of %d not seen: %s", e.Step+1, len(e.Steps), e.Steps[e.Step])
	for i, m := range e.Matched {
		fmt.Fprintf(&b, "\n  step %d (%s) matched: %s", i+1, e.Steps[i], FormatLine(&m))
	}
	switch {
	case e.Total == 0:
		b.WriteString("\n  the trace is empty")
		return b.String()
	case e.Step == 0:
		fmt.Fprintf(&b, "\n  no packet of the %d in the trace matches", e.Total)
	case !e.Until.IsZero():
		fmt.Fprintf(&b, "\n  looked after %s until %s (%d packets)", e.From.Local().Format(TimeFormat), e.Until.Local().Format(TimeFormat), e.SeenTotal)
	default:
		fmt.Fprintf(&b, "\n  looked after %s (%d packets)", e.From.Local().Format(TimeFormat), e.SeenTotal)
	}
	if len(e.Seen) > 0 {
		b.WriteString("; seen instead:")
		for i := range e.Seen {
			fmt.Fprintf(&b, "\n    %s", FormatLine(&e.Seen[i]))
		}
		if more := e.SeenTotal - len(e.Seen); more > 0 {
			fmt.Fprintf(&b, "\n    ... %d more", more)
		}
	}
	return b.String()
}

// ExpectSequence checks that packets contain steps in order: a packet
// matching steps[0], then a later one matching steps[1], and so on, all of
// them no later than within after the first (within <= 0: no bound).
// Packets of several captures may be mixed (see [Merge]); they are
// considered in time order. Other packets may come in between. It returns
// nil on success, or a *SequenceError naming the first step not seen (in
// the attempt that got furthest) and what was seen instead.
func ExpectSequence(packets []Packet, steps []Pattern, within time.Duration) error {
	if len(steps) == 0 {
		return nil
	}
	pk := sortedByTime(packets)
	var best *SequenceError
	for start := range pk {
		if !steps[0].Match(&pk[start]) {
			continue
		}
		var until time.Time
		if within > 0 {
			until = pk[start].Time.Add(within)
		}
		matched := []Packet{pk[start]}
		at := start
		failed := -1
		for s := 1; s < len(steps); s++ {
			next := findNext(pk, at+1, until, steps[s])
			if next < 0 {
				failed = s
				break
			}
			matched = append(matched, pk[next])
			at = next
		}
		if failed < 0 {
			return nil
		}
		if best == nil || failed > best.Step {
			best = &SequenceError{Step: failed, Steps: steps, Matched: matched, From: pk[at].Time, Until: until, Total: len(pk)}
			best.Seen, best.SeenTotal = seenAfter(pk, at+1, until, steps[failed])
		}
	}
	if best == nil {
		best = &SequenceError{Step: 0, Steps: steps, Total: len(pk)}
		best.Seen, best.SeenTotal = seenAfter(pk, 0, time.Time{}, steps[0])
	}
	return best
}

// findNext returns the index of the first packet from i on that matches p
// and is not after until (zero: unbounded), or -1.
func findNext(pk []Packet, i int, until time.Time, p Pattern) int {
	for ; i < len(pk); i++ {
		if !until.IsZero() && pk[i].Time.After(until) {
			return -1
		}
		if p.Match(&pk[i]) {
			return i
		}
	}
	return -1
}

// seenAfter lists the packets from index i up to until, those of p's
// protocol first, at most maxSeen of them.
func seenAfter(pk []Packet, i int, until time.Time, p Pattern) ([]Packet, int) {
	var same, other []Packet
	for ; i < len(pk); i++ {
		if !until.IsZero() && pk[i].Time.After(until) {
			break
		}
		if p.proto != ProtoAny && pk[i].Is(p.proto) {
			same = append(same, pk[i])
		} else {
			other = append(other, pk[i])
		}
	}
	total := len(same) + len(other)
	seen := append(same, other...)
	if len(seen) > maxSeen {
		seen = seen[:maxSeen]
	}
	return seen, total
}

// AbsentError reports packets that matched a pattern expected to be absent.
type AbsentError struct {
	Pattern Pattern
	After   time.Time
	Found   []Packet // matching packets, at most 20
	Total   int      // number of matching packets
}

func (e *AbsentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace: %d unexpected packet(s) after %s matching %s:", e.Total, e.After.Local().Format(TimeFormat), e.Pattern)
	for i := range e.Found {
		fmt.Fprintf(&b, "\n    %s", FormatLine(&e.Found[i]))
	}
	if more := e.Total - len(e.Found); more > 0 {
		fmt.Fprintf(&b, "\n    ... %d more", more)
	}
	return b.String()
}

// ExpectAbsent checks that no packet at or after the time after matches p
// (for example no advert from the old master once it resigned). It returns
// nil, or an *AbsentError listing the offending packets.
func ExpectAbsent(packets []Packet, p Pattern, after time.Time) error {
	var found []Packet
	total := 0
	for _, pk := range sortedByTime(packets) {
		if pk.Time.Before(after) || !p.Match(&pk) {
			continue
		}
		total++
		if len(found) < maxSeen {
			found = append(found, pk)
		}
	}
	if total == 0 {
		return nil
	}
	return &AbsentError{Pattern: p, After: after, Found: found, Total: total}
}

// sortedByTime returns packets in time order, copying only when they are
// not sorted already. Packets with equal times keep their order.
func sortedByTime(packets []Packet) []Packet {
	if slices.IsSortedFunc(packets, cmpTime) {
		return packets
	}
	out := slices.Clone(packets)
	slices.SortStableFunc(out, cmpTime)
	return out
}

func cmpTime(a, b Packet) int { return a.Time.Compare(b.Time) }

// Merge returns the packets of several captures in one time-ordered slice
// (stable: packets with equal timestamps keep the order of the arguments).
func Merge(lists ...[]Packet) []Packet {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]Packet, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortStableFunc(out, cmpTime)
	return out
}

// Since returns the packets at or after t, in their order.
func Since(packets []Packet, t time.Time) []Packet {
	var out []Packet
	for _, p := range packets {
		if !p.Time.Before(t) {
			out = append(out, p)
		}
	}
	return out
}
