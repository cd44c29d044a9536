package assert

import (
	"fmt"
	"strings"
	"time"

	"halab/lab/capture"
)

// PacketSource gives the packets captured so far in time order;
// *capture.Group satisfies it.
type PacketSource interface {
	Packets() []capture.Packet
}

// Packets is a PacketSource over recorded packets.
type Packets []capture.Packet

// Packets returns the recorded packets.
func (p Packets) Packets() []capture.Packet { return p }

// since keeps the packets at or after t (all when t is zero).
func since(src PacketSource, t time.Time) []capture.Packet {
	if t.IsZero() {
		return src.Packets()
	}
	return capture.Since(src.Packets(), t)
}

// TraceSequence checks that packets captured at or after from contain steps
// in order, waiting up to within for them to be captured.
func TraceSequence(t TestingT, src PacketSource, from time.Time, within time.Duration, steps ...capture.Pattern) bool {
	helper(t)
	var last error
	ok, _ := eventually(within, func() (bool, string) {
		last = capture.ExpectSequence(since(src, from), steps, 0)
		return last == nil, ""
	})
	if ok {
		return true
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.String()
	}
	return failf(t, fmt.Sprintf("packets in order %s: %s", withinText(within), strings.Join(names, " -> ")), last.Error())
}

// NoTrace checks that no packet captured at or after from matches p,
// watching for during (0: only what is captured already).
func NoTrace(t TestingT, src PacketSource, from time.Time, during time.Duration, p capture.Pattern) bool {
	helper(t)
	if during > 0 {
		time.Sleep(during)
	}
	err := capture.ExpectAbsent(src.Packets(), p, from)
	if err == nil {
		return true
	}
	return failf(t, "no packet matching "+p.String(), err.Error())
}
