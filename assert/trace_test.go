package assert

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/lab/capture"
)

// vrrpFrame builds a captured VRRP advert from src with priority prio.
func vrrpFrame(t *testing.T, node string, at time.Time, src string, prio uint8) capture.Packet {
	t.Helper()
	s, dst := netip.MustParseAddr(src), netip.MustParseAddr("224.0.0.18")
	payload, err := capture.MarshalVRRP(&capture.VRRP{Version: 2, Type: 1, VRID: 51, Priority: prio, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.100")}}, s, dst)
	require.NoError(t, err)
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0}
	total := 20 + len(payload)
	ip[2], ip[3] = byte(total>>8), byte(total)
	ip = append(ip, s.AsSlice()...)
	ip = append(ip, dst.AsSlice()...)
	eth := append(net.HardwareAddr{1, 0, 0x5e, 0, 0, 18}, 2, 0, 0, 0, 0, 1, 0x08, 0x00)
	frame := append(append(eth, ip...), payload...)
	p := capture.Decode(frame)
	p.Node, p.Iface, p.Time, p.Len = node, "eth0", at, len(frame)
	return p
}

func TestTraceChecks(t *testing.T) {
	pk := Packets{
		vrrpFrame(t, "nginx02", t0, "10.0.1.11", 95),
		vrrpFrame(t, "nginx02", t0.Add(time.Second), "10.0.1.11", 0),
		vrrpFrame(t, "nginx02", t0.Add(2*time.Second), "10.0.1.12", 90),
	}
	require.NotNil(t, pk[0].VRRP, pk[0].DecodeErr)
	n1, n2 := netip.MustParseAddr("10.0.1.11"), netip.MustParseAddr("10.0.1.12")
	requirePass(t, check(func(r TestingT) {
		TraceSequence(r, pk, time.Time{}, 0, capture.VRRPAdvert().From(n1).Priority(0), capture.VRRPAdvert().From(n2).Priority(90))
	}))
	msg := check(func(r TestingT) {
		TraceSequence(r, pk, t0.Add(1500*time.Millisecond), 100*time.Millisecond, capture.VRRPAdvert().From(n1).Priority(0))
	})
	assert.Contains(t, msg, "expected packets in order within 100ms: vrrp advert")

	requirePass(t, check(func(r TestingT) { NoTrace(r, pk, t0.Add(1500*time.Millisecond), 0, capture.VRRPAdvert().From(n1)) }))
	msg = check(func(r TestingT) { NoTrace(r, pk, t0, 0, capture.VRRPAdvert().From(n1)) })
	assert.Contains(t, msg, "expected no packet matching vrrp advert")
}
