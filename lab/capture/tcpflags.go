package capture

import (
	"fmt"
	"strings"
)

// TCPFlags is the TCP flags byte (FIN is bit 0, CWR bit 7).
type TCPFlags uint8

// TCP flag bits.
const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// tcpFlagLetters follows tcpdump's order and letters: ACK prints as ".".
var tcpFlagLetters = []struct {
	flag   TCPFlags
	letter byte
}{
	{FlagFIN, 'F'}, {FlagSYN, 'S'}, {FlagRST, 'R'}, {FlagPSH, 'P'},
	{FlagACK, '.'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'},
}

// String renders the flags as tcpdump does inside "Flags [...]": "S", "S.",
// "P.", "F.", "R", and "none" when no flag is set.
func (f TCPFlags) String() string {
	if f == 0 {
		return "none"
	}
	var b strings.Builder
	for _, l := range tcpFlagLetters {
		if f&l.flag != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

// ParseTCPFlags parses tcpdump's notation ("S", "S.", "P.", "F.", "R", "R.",
// "none"), optionally written inside brackets ("[S.]").
func ParseTCPFlags(s string) (TCPFlags, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	if s == "none" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("tcp flags: empty (want letters of FSRP.UEW, e.g. \"S.\", or \"none\")")
	}
	var f TCPFlags
next:
	for i := 0; i < len(s); i++ {
		for _, l := range tcpFlagLetters {
			if s[i] == l.letter {
				if f&l.flag != 0 {
					return 0, fmt.Errorf("tcp flags %q: %q repeated", s, s[i])
				}
				f |= l.flag
				continue next
			}
		}
		return 0, fmt.Errorf("tcp flags %q: unknown flag %q (want letters of FSRP.UEW)", s, s[i])
	}
	return f, nil
}
