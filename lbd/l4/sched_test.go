package l4

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestSlots(t *testing.T) {
	a, b, c := ap("10.0.2.11:80"), ap("10.0.2.12:80"), ap("10.0.2.13:8080")
	tests := []struct {
		name     string
		algo     Algo
		backends []Backend
		want     []netip.AddrPort
	}{
		{"rr ignores weight", AlgoRR, []Backend{{a, 3}, {b, 1}}, []netip.AddrPort{a, b}},
		{"rr skips weight 0", AlgoRR, []Backend{{a, 0}, {b, 1}, {c, 5}}, []netip.AddrPort{b, c}},
		{"none", AlgoRR, nil, nil},
		{"all quiesced", AlgoWRR, []Backend{{a, 0}}, nil},
		{"wrr 3:1 like IPVS", AlgoWRR, []Backend{{a, 3}, {b, 1}}, []netip.AddrPort{a, a, a, b}},
		{"wrr 4:3:2", AlgoWRR, []Backend{{a, 4}, {b, 3}, {c, 2}},
			[]netip.AddrPort{a, a, b, a, b, c, a, b, c}},
		{"wrr gcd", AlgoWRR, []Backend{{a, 100}, {b, 100}}, []netip.AddrPort{a, b}},
		{"wrr 200:100", AlgoWRR, []Backend{{a, 200}, {b, 100}}, []netip.AddrPort{a, a, b}},
		{"sh weighted", AlgoSH, []Backend{{a, 2}, {b, 1}}, []netip.AddrPort{a, a, b}},
		{"sh equal", AlgoSH, []Backend{{a, 5}, {b, 5}}, []netip.AddrPort{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Slots(tt.algo, tt.backends))
		})
	}
}

// TestSlotsWRRMatchesIPVS replays IPVS's wrr selection loop (ip_vs_wrr.c) and
// checks that one cycle of it is exactly our table.
func TestSlotsWRRMatchesIPVS(t *testing.T) {
	weights := []int{5, 3, 2, 7}
	var backends []Backend
	for i, w := range weights {
		backends = append(backends, Backend{netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)}), 80), w})
	}
	slots := Slots(AlgoWRR, backends)
	require.Len(t, slots, 17)

	g, mw := 1, 7
	i, cw := -1, 0
	for n := range 3 * len(slots) {
		for {
			i = (i + 1) % len(weights)
			if i == 0 {
				cw -= g
				if cw <= 0 {
					cw = mw
				}
			}
			if weights[i] >= cw {
				break
			}
		}
		require.Equal(t, backends[i].Addr, slots[n%len(slots)], "pick %d", n)
	}
}

func TestSlotsBounded(t *testing.T) {
	backends := []Backend{{ap("10.0.2.11:80"), 65535}, {ap("10.0.2.12:80"), 65534}, {ap("10.0.2.13:80"), 1}}
	slots := Slots(AlgoWRR, backends)
	assert.LessOrEqual(t, len(slots), MaxSlots)
	assert.Contains(t, slots, ap("10.0.2.13:80"), "a small weight still gets a slot")
}
