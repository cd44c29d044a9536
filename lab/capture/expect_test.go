package capture

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failoverTrace is a crafted VRRP failover seen on two nodes: nginx01
// (10.0.1.2) is master, resigns, nginx02 (10.0.1.3) takes over, sends
// gratuitous ARPs from its MAC, then a client connects to the VIP.
func failoverTrace(t *testing.T) (pk []Packet, t0 time.Time) {
	t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	add := func(node string, at time.Duration, data []byte) {
		p := Decode(data)
		p.Node, p.Iface, p.Time = node, "eth0", t0.Add(at)
		pk = append(pk, p)
	}
	adv := func(src netip.Addr, prio uint8) []byte {
		return vrrpPacket(t, src, &VRRP{Version: 2, VRID: 51, Priority: prio, Interval: time.Second, Addrs: []netip.Addr{ipVIP}})
	}
	add("nginx01", 0, adv(ipA, 100))
	add("nginx02", 1*time.Millisecond, adv(ipA, 100))
	add("nginx01", 1000*time.Millisecond, adv(ipA, 100))
	add("nginx01", 1500*time.Millisecond, adv(ipA, 0)) // resign
	add("nginx02", 1600*time.Millisecond, adv(ipB, 90))
	add("nginx02", 1601*time.Millisecond, arpPacket(t, ARPRequest, macB, ipVIP, zeroHW, ipVIP))
	add("nginx02", 1602*time.Millisecond, arpPacket(t, ARPReply, macB, ipVIP, layers.EthernetBroadcast, ipVIP))
	add("nginx02", 2600*time.Millisecond, adv(ipB, 90))
	add("nginx02", 2700*time.Millisecond, tcpPacket(t, ipA, ipVIP, &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Seq: 1}, ""))
	add("nginx02", 2701*time.Millisecond, tcpPacket(t, ipVIP, ipA, &layers.TCP{SrcPort: 80, DstPort: 40000, SYN: true, ACK: true, Seq: 9, Ack: 2}, ""))
	return pk, t0
}

func TestExpectSequence(t *testing.T) {
	pk, _ := failoverTrace(t)
	resign := VRRPAdvert().VRID(51).Priority(0).From(ipA)
	takeover := VRRPAdvert().VRID(51).Priority(90).From(ipB).On("nginx02", "eth0")
	garp := GratuitousARP(ipVIP).FromMAC(macB)
	syn := TCPSegment(FlagSYN).To(ipVIP).DstPort(80)
	synack := TCPSegment(FlagSYN | FlagACK).From(ipVIP).SrcPort(80)

	require.NoError(t, ExpectSequence(pk, []Pattern{resign, takeover, garp, garp.ARPOp(ARPReply), syn, synack}, 2*time.Second))
	require.NoError(t, ExpectSequence(pk, nil, time.Second))
	require.NoError(t, ExpectSequence(pk, []Pattern{takeover, takeover}, 0), "the second advert after the first, unbounded")

	// Order matters: the SYN does not come before the resignation.
	err := ExpectSequence(pk, []Pattern{syn, resign}, 0)
	var se *SequenceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Step)
	assert.Contains(t, err.Error(), "step 2 of 2 not seen: vrrp advert vrid 51 prio 0 from 10.0.1.2")

	// Time bound: the takeover comes 100ms after the resignation, not within 50ms.
	err = ExpectSequence(pk, []Pattern{resign, takeover}, 50*time.Millisecond)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Step)
	assert.Len(t, se.Matched, 1)

	// Wrong priority: the failure names the step and shows the adverts seen instead.
	err = ExpectSequence(pk, []Pattern{resign, takeover.Priority(95).Named("advert from nginx02 with prio 95")}, 5*time.Second)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Step)
	msg := err.Error()
	assert.Contains(t, msg, "step 2 of 2 not seen: advert from nginx02 with prio 95")
	assert.Contains(t, msg, "step 1 (vrrp advert vrid 51 prio 0 from 10.0.1.2) matched: nginx01:eth0")
	assert.Contains(t, msg, "seen instead:")
	assert.Contains(t, msg, "VRRPv2, Advertisement, vrid 51, prio 90")
	require.NotEmpty(t, se.Seen)
	assert.NotNil(t, se.Seen[0].VRRP, "packets of the step's protocol come first")

	// A first step that never matches.
	err = ExpectSequence(pk, []Pattern{VRRPAdvert().VRID(52)}, time.Second)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 0, se.Step)
	assert.Contains(t, err.Error(), "no packet of the 10 in the trace matches")

	err = ExpectSequence(nil, []Pattern{AnyPacket()}, time.Second)
	assert.ErrorContains(t, err, "the trace is empty")
}

func TestExpectSequenceUnsorted(t *testing.T) {
	pk, _ := failoverTrace(t)
	rev := make([]Packet, len(pk))
	for i := range pk {
		rev[len(pk)-1-i] = pk[i]
	}
	require.NoError(t, ExpectSequence(rev, []Pattern{VRRPAdvert().Priority(0), GratuitousARP(ipVIP)}, time.Second))
	assert.Equal(t, pk, Merge(rev[:4], rev[4:]))
}

func TestExpectAbsent(t *testing.T) {
	pk, t0 := failoverTrace(t)
	oldMaster := VRRPAdvert().From(ipA)
	resigned := pk[3].Time
	require.NoError(t, ExpectAbsent(pk, oldMaster, resigned.Add(time.Nanosecond)))

	err := ExpectAbsent(pk, oldMaster, t0)
	var ae *AbsentError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 4, ae.Total)
	assert.Contains(t, err.Error(), "trace: 4 unexpected packet(s) after 12:00:00.000000 matching vrrp advert from 10.0.1.2")
	assert.Len(t, Select(pk, oldMaster), 4)
	assert.Len(t, Since(pk, resigned), 7)
}

func TestPatterns(t *testing.T) {
	pk, _ := failoverTrace(t)
	tests := []struct {
		p    Pattern
		want int
		desc string
	}{
		{AnyPacket(), 10, "any packet"},
		{VRRPAdvert(), 6, "vrrp advert"},
		{VRRPAdvert().VRRPVersion(3), 0, "vrrp advert VRRPv3"},
		{AnyPacket().Proto(ProtoARP), 2, "arp"},
		{AnyPacket().ARPOp(ARPRequest), 1, "arp request"},
		{GratuitousARP(ipVIP).FromMAC(macA), 0, "arp gratuitous 10.0.1.100 from mac 02:00:00:00:00:01"},
		{AnyPacket().Priority(90), 2, "vrrp prio 90"},
		{AnyPacket().On("nginx01", ""), 3, "on nginx01"},
		{AnyPacket().Port(80), 2, "port 80"},
		{AnyPacket().SrcPort(40000).To(ipVIP), 1, "src port 40000 to 10.0.1.100"},
		{AnyPacket().Where("big", func(p *Packet) bool { return p.Len > 60 }), 0, "big"},
	}
	for _, tt := range tests {
		assert.Len(t, Select(pk, tt.p), tt.want, tt.desc)
		assert.Equal(t, tt.desc, tt.p.String())
	}
	// Derived patterns do not share conditions.
	base := VRRPAdvert()
	a, b := base.Priority(1), base.Priority(90)
	assert.Len(t, Select(pk, a), 0)
	assert.Len(t, Select(pk, b), 2)
}
