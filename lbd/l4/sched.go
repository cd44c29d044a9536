package l4

import "net/netip"

// MaxSlots bounds the scheduling table of one virtual service. Weighted
// schedulers expand weights into table entries; past this size the weights are
// scaled down proportionally (IPVS itself accepts weights up to 65535).
const MaxSlots = 4096

// Slots returns the scheduling table of a virtual service: the kernel picks
// entry (counter mod len) for rr and wrr, and (jhash(client) mod len) for sh.
// Backends of weight <= 0 get no entry, like IPVS's quiesced servers.
//
// rr lists every backend once. wrr reproduces IPVS's weighted round robin
// sequence exactly: for cw from the largest weight down to the weights' gcd in
// steps of the gcd, every backend whose weight is >= cw, in configuration
// order. sh lists each backend weight/gcd times, so clients spread in
// proportion to the weights.
func Slots(algo Algo, backends []Backend) []netip.AddrPort {
	var live []Backend
	for _, b := range backends {
		if b.Weight > 0 {
			live = append(live, b)
		}
	}
	if len(live) == 0 {
		return nil
	}
	if algo == AlgoRR {
		out := make([]netip.AddrPort, len(live))
		for i, b := range live {
			out[i] = b.Addr
		}
		return out
	}
	weights := scaleWeights(live)
	g, maxW := 0, 0
	for _, w := range weights {
		g = gcd(g, w)
		maxW = max(maxW, w)
	}
	var out []netip.AddrPort
	switch algo {
	case AlgoSH:
		for i, b := range live {
			for range weights[i] / g {
				out = append(out, b.Addr)
			}
		}
	default: // AlgoWRR
		for cw := maxW; cw > 0; cw -= g {
			for i, b := range live {
				if weights[i] >= cw {
					out = append(out, b.Addr)
				}
			}
		}
	}
	return out
}

// scaleWeights returns the weights of live backends, scaled down so that
// their sum (after division by their gcd) fits in MaxSlots.
func scaleWeights(live []Backend) []int {
	w := make([]int, len(live))
	g, sum := 0, 0
	for i, b := range live {
		w[i] = b.Weight
		g = gcd(g, b.Weight)
	}
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum <= MaxSlots {
		return w
	}
	for i := range w {
		w[i] = max(1, w[i]*MaxSlots/sum)
	}
	return w
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
