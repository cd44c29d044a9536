package capture

import (
	"net/netip"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeFormat feeds arbitrary frames to the decoder and formatter: they
// must never panic, and the text must be one valid UTF-8 line.
func FuzzDecodeFormat(f *testing.F) {
	for _, c := range craftedCases(f) {
		f.Add(c.data)
		f.Add(c.data[:len(c.data)*2/3]) // truncated by a short snaplen
	}
	f.Add([]byte{})
	f.Add(make([]byte, 14))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Decode(data)
		s := Format(&p)
		for _, r := range s {
			if r == '\n' || r == '\r' {
				t.Fatalf("line break in %q", s)
			}
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 in %q", s)
		}
		for _, pat := range []Pattern{VRRPAdvert().VRID(51).Priority(0), GratuitousARP(ipVIP), TCPSegment(FlagSYN).DstPort(80)} {
			_ = pat.Match(&p)
		}
	})
}

// FuzzDecodeVRRP checks that VRRP messages decode without panicking and
// that what MarshalVRRP builds decodes back to the same fields.
func FuzzDecodeVRRP(f *testing.F) {
	v2, _ := MarshalVRRP(&VRRP{Version: 2, VRID: 51, Priority: 100, AuthType: 1, Interval: 1e9, Addrs: []netip.Addr{ipVIP}, Auth: []byte("pw")}, ipA, vrrpMC)
	v3, _ := MarshalVRRP(&VRRP{Version: 3, VRID: 51, Priority: 100, Interval: 1e9, Addrs: []netip.Addr{ipVIP, ipVIP2}}, ipA, vrrpMC)
	f.Add(v2, true)
	f.Add(v3, true)
	f.Add(v3[:9], false)
	f.Fuzz(func(t *testing.T, b []byte, v4 bool) {
		src, dst := ipA, vrrpMC
		if !v4 {
			src, dst = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::12")
		}
		v, err := DecodeVRRP(b, src, dst, len(b))
		if err != nil || v == nil || !v.ChecksumOK {
			return
		}
		out, err := MarshalVRRP(v, src, dst)
		if err != nil {
			return
		}
		back, err := DecodeVRRP(out, src, dst, len(out))
		if err != nil {
			t.Fatalf("re-decoding %x: %v", out, err)
		}
		if back.VRID != v.VRID || back.Priority != v.Priority || len(back.Addrs) != len(v.Addrs) || back.Interval != v.Interval || !back.ChecksumOK {
			t.Fatalf("round trip changed %+v into %+v", v, back)
		}
	})
}
