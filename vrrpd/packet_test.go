package vrrpd

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	srcA  = mustAddr("10.0.1.2")
	mcast = mustAddr("224.0.0.18")
	vip1  = mustAddr("10.0.1.100")
	vip2  = mustAddr("10.0.1.101")
)

func v2Advert() *Advert {
	return &Advert{Version: 2, VRID: 111, Priority: 95, Interval: time.Second,
		AuthType: AuthSimpleText, AuthData: AuthBytes("Security"), Addrs: []netip.Addr{vip1, vip2}}
}

func v3Advert() *Advert {
	return &Advert{Version: 3, VRID: 22, Priority: 100, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{vip1}}
}

func v2Expect() Expect {
	return Expect{Version: 2, VRID: 111, AuthType: AuthSimpleText, AuthData: AuthBytes("Security"),
		CheckTTL: true, MinTTL: -1, MaxTTL: -1, Interval: time.Second, Addrs: []netip.Addr{vip2, vip1}}
}

func v3Expect() Expect {
	return Expect{Version: 3, VRID: 22, CheckTTL: true, MinTTL: -1, MaxTTL: -1, Addrs: []netip.Addr{vip1}}
}

func TestMarshalV2Layout(t *testing.T) {
	b, err := v2Advert().Marshal(srcA, mcast)
	require.NoError(t, err)
	require.Len(t, b, 8+8+8)
	assert.Equal(t, []byte{0x21, 111, 95, 2, 1, 1}, b[:6])
	assert.Equal(t, []byte{10, 0, 1, 100, 10, 0, 1, 101}, b[8:16])
	assert.Equal(t, []byte("Security"), b[16:])
	assert.Equal(t, uint16(0), checksum(b, 0), "checksum over the VRRP message verifies")
}

func TestMarshalV3Layout(t *testing.T) {
	b, err := v3Advert().Marshal(srcA, mcast)
	require.NoError(t, err)
	require.Len(t, b, 12)
	assert.Equal(t, []byte{0x31, 22, 100, 1, 0, 5}, b[:6])
	assert.Equal(t, uint16(0), checksum(b, pseudoHeader(srcA, mcast, len(b))))
	assert.NotEqual(t, uint16(0), checksum(b, 0), "v3 checksum includes the pseudo-header")
	// A different destination (unicast peer) changes the checksum.
	b2, err := v3Advert().Marshal(srcA, mustAddr("10.0.1.3"))
	require.NoError(t, err)
	assert.NotEqual(t, b[6:8], b2[6:8])
}

func TestV3MaxInterval(t *testing.T) {
	a := v3Advert()
	a.Interval = 40950 * time.Millisecond
	b, err := a.Marshal(srcA, mcast)
	require.NoError(t, err)
	assert.Equal(t, uint16(4095), binary.BigEndian.Uint16(b[4:]))
	a.Interval = 41 * time.Second
	_, err = a.Marshal(srcA, mcast)
	require.Error(t, err)
}

func TestRoundTrip(t *testing.T) {
	for _, a := range []*Advert{v2Advert(), v3Advert()} {
		want := v2Expect()
		if a.Version == 3 {
			want = v3Expect()
		}
		b, err := a.Marshal(srcA, mcast)
		require.NoError(t, err)
		got, drop := Decode(b, RxInfo{Src: srcA, Dst: mcast, TTL: 255}, want)
		require.Equal(t, DropNone, drop)
		got.Checksum = 0
		assert.Equal(t, a, got)
	}
}

func TestDecodeDrops(t *testing.T) {
	rx := RxInfo{Src: srcA, Dst: mcast, TTL: 255}
	enc := func(a *Advert) []byte {
		b, err := a.Marshal(srcA, mcast)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name string
		pkt  func() []byte
		rx   func(RxInfo) RxInfo
		exp  func(Expect) Expect
		v3   bool
		want Drop
	}{
		{name: "ok v2", pkt: func() []byte { return enc(v2Advert()) }, want: DropNone},
		{name: "ttl", pkt: func() []byte { return enc(v2Advert()) }, rx: func(r RxInfo) RxInfo { r.TTL = 64; return r }, want: DropTTL},
		{name: "unicast ttl unchecked", pkt: func() []byte { return enc(v2Advert()) }, rx: func(r RxInfo) RxInfo { r.TTL = 64; return r },
			exp: func(e Expect) Expect { e.CheckTTL = false; return e }, want: DropNone},
		{name: "unicast min ttl", pkt: func() []byte { return enc(v2Advert()) }, rx: func(r RxInfo) RxInfo { r.TTL = 64; return r },
			exp: func(e Expect) Expect { e.CheckTTL = false; e.MinTTL = 100; return e }, want: DropTTL},
		{name: "short", pkt: func() []byte { return enc(v2Advert())[:7] }, want: DropLength},
		{name: "count too big", pkt: func() []byte { b := enc(v2Advert()); b[3] = 3; return b }, want: DropLength},
		{name: "version 1", pkt: func() []byte { b := enc(v2Advert()); b[0] = 0x11; return b }, want: DropVersion},
		{name: "v3 to v2 instance", pkt: func() []byte { return enc(v3Advert()) }, want: DropVersion},
		{name: "type", pkt: func() []byte { b := enc(v2Advert()); b[0] = 0x22; return b }, want: DropType},
		{name: "checksum", pkt: func() []byte { b := enc(v2Advert()); b[9] ^= 1; return b }, want: DropChecksum},
		{name: "vrid", pkt: func() []byte { a := v2Advert(); a.VRID = 5; return enc(a) }, want: DropVRID},
		{name: "auth pass", pkt: func() []byte { a := v2Advert(); a.AuthData = AuthBytes("Other"); return enc(a) }, want: DropAuth},
		{name: "auth type", pkt: func() []byte { a := v2Advert(); a.AuthType = 0; a.AuthData = [8]byte{}; return enc(a) }, want: DropAuth},
		{name: "interval", pkt: func() []byte { a := v2Advert(); a.Interval = 2 * time.Second; return enc(a) }, want: DropInterval},
		{name: "addrs", pkt: func() []byte { a := v2Advert(); a.Addrs = a.Addrs[:1]; return enc(a) }, want: DropAddrs},
		{name: "addrs unchecked", pkt: func() []byte { a := v2Advert(); a.Addrs = a.Addrs[:1]; return enc(a) },
			exp: func(e Expect) Expect { e.Addrs = nil; return e }, want: DropNone},
		{name: "trailing bytes ok", pkt: func() []byte { return append(enc(v2Advert()), 0, 0, 0) }, want: DropNone},
		{name: "ok v3", v3: true, pkt: func() []byte { return enc(v3Advert()) }, want: DropNone},
		{name: "v3 checksum wrong dst", v3: true, pkt: func() []byte { return enc(v3Advert()) },
			rx: func(r RxInfo) RxInfo { r.Dst = mustAddr("10.0.1.3"); return r }, want: DropChecksum},
		{name: "v3 zero interval", v3: true, pkt: func() []byte {
			b := enc(v3Advert())
			b[4], b[5] = 0, 0
			binary.BigEndian.PutUint16(b[6:], 0)
			binary.BigEndian.PutUint16(b[6:], checksum(b, pseudoHeader(srcA, mcast, len(b))))
			return b
		}, want: DropInterval},
		{name: "v3 any interval accepted", v3: true, pkt: func() []byte { a := v3Advert(); a.Interval = 3 * time.Second; return enc(a) }, want: DropNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rx
			if tt.rx != nil {
				r = tt.rx(r)
			}
			e := v2Expect()
			if tt.v3 {
				e = v3Expect()
			}
			if tt.exp != nil {
				e = tt.exp(e)
			}
			_, drop := Decode(tt.pkt(), r, e)
			assert.Equal(t, tt.want, drop, "got %v", drop)
		})
	}
}

// TestGopacketDecodes checks that gopacket's VRRP layer reads what we write.
func TestGopacketDecodes(t *testing.T) {
	for _, a := range []*Advert{v2Advert(), v3Advert()} {
		payload, err := a.Marshal(srcA, mcast)
		require.NoError(t, err)
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 255, Protocol: layers.IPProtocol(IPProtoVRRP),
			SrcIP: net.IP(srcA.AsSlice()), DstIP: net.IP(mcast.AsSlice())}
		buf := gopacket.NewSerializeBuffer()
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip, gopacket.Payload(payload)))
		pkt := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeIPv4, gopacket.Default)
		require.Nil(t, pkt.ErrorLayer(), "decode error: %v", pkt.ErrorLayer())
		l, ok := pkt.Layer(layers.LayerTypeVRRP).(*layers.VRRPv2)
		require.True(t, ok, "no VRRP layer")
		assert.Equal(t, uint8(a.Version), l.Version)
		assert.Equal(t, layers.VRRPv2Advertisement, l.Type)
		assert.Equal(t, a.VRID, l.VirtualRtrID)
		assert.Equal(t, a.Priority, l.Priority)
		assert.Equal(t, uint8(len(a.Addrs)), l.CountIPAddr)
		require.Len(t, l.IPAddress, len(a.Addrs))
		for i, ipa := range l.IPAddress {
			assert.Equal(t, a.Addrs[i].String(), ipa.String())
		}
		if a.Version == 2 {
			assert.Equal(t, layers.VRRPv2AuthType(a.AuthType), l.AuthType)
			assert.Equal(t, uint8(1), l.AdverInt)
		}
		assert.Equal(t, binary.BigEndian.Uint16(payload[6:]), l.Checksum)
	}
}

func FuzzDecode(f *testing.F) {
	for _, a := range []*Advert{v2Advert(), v3Advert()} {
		b, _ := a.Marshal(srcA, mcast)
		f.Add(b, uint8(255))
	}
	f.Add([]byte{0x21, 1, 1, 0, 0, 1, 0, 0}, uint8(255))
	f.Fuzz(func(t *testing.T, b []byte, ttl uint8) {
		rx := RxInfo{Src: srcA, Dst: mcast, TTL: int(ttl)}
		for _, e := range []Expect{v2Expect(), v3Expect(), {Version: 2, VRID: 1, MinTTL: -1, MaxTTL: -1}} {
			a, drop := Decode(b, rx, e)
			if drop != DropNone {
				if a != nil {
					t.Fatal("advert returned with a drop reason")
				}
				continue
			}
			if a.Version == 3 && b[4]&0xf0 != 0 {
				continue // reserved bits are ignored on receipt, zero on send
			}
			// An accepted advert re-encodes to the same message.
			out, err := a.Marshal(rx.Src, rx.Dst)
			if err != nil {
				if a.Version == 2 && a.Interval == 0 {
					continue // v2 interval 0 decodes but cannot be sent
				}
				t.Fatalf("re-encode: %v", err)
			}
			if string(out) != string(b[:len(out)]) {
				t.Fatalf("re-encode differs:\n%x\n%x", out, b[:len(out)])
			}
		}
	})
}
