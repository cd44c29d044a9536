package capture

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/require"
)

// Crafted packets shared by the unit, format and fuzz tests.

var (
	macA   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	macB   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	macV   = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 51}
	ipA    = netip.MustParseAddr("10.0.1.2")
	ipB    = netip.MustParseAddr("10.0.1.3")
	ipVIP  = netip.MustParseAddr("10.0.1.100")
	ipVIP2 = netip.MustParseAddr("10.0.1.101")
	vrrpMC = netip.MustParseAddr("224.0.0.18")
	zeroHW = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...)
	require.NoError(t, err)
	return buf.Bytes()
}

func ethFrame(src, dst net.HardwareAddr, typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: typ}
}

func arpPacket(t testing.TB, op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	dst := layers.EthernetBroadcast
	if op == ARPReply && !isZero(tha) && tha[0] != 0xff {
		dst = tha
	}
	return serialize(t, ethFrame(sha, dst, layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
		SourceHwAddress: sha, SourceProtAddress: spa.AsSlice(),
		DstHwAddress: tha, DstProtAddress: tpa.AsSlice(),
	})
}

func ip4Layer(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func tcpPacket(t testing.TB, src, dst netip.Addr, tcp *layers.TCP, payload string) []byte {
	ip := ip4Layer(src, dst, layers.IPProtocolTCP)
	require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
	return serialize(t, ethFrame(macA, macB, layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(payload))
}

func udpPacket(t testing.TB, src, dst netip.Addr, sport, dport uint16, payload string) []byte {
	ip := ip4Layer(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	return serialize(t, ethFrame(macA, macB, layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(payload))
}

func icmpEcho(t testing.TB, src, dst netip.Addr, typ uint8, id, seq uint16) []byte {
	return serialize(t, ethFrame(macA, macB, layers.EthernetTypeIPv4), ip4Layer(src, dst, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: id, Seq: seq}, gopacket.Payload(make([]byte, 56)))
}

func icmpError(t testing.TB, typ, code uint8) []byte {
	inner := ip4Layer(ipB, ipA, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 5000, DstPort: 6000}
	require.NoError(t, udp.SetNetworkLayerForChecksum(inner))
	return serialize(t, ethFrame(macA, macB, layers.EthernetTypeIPv4), ip4Layer(ipA, ipB, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code)}, inner, udp, gopacket.Payload("x"))
}

func vrrpPacket(t testing.TB, src netip.Addr, v *VRRP) []byte {
	body, err := MarshalVRRP(v, src, vrrpMC)
	require.NoError(t, err)
	ip := ip4Layer(src, vrrpMC, IPProtoVRRP)
	ip.TTL = 255
	return serialize(t, ethFrame(macV, net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 18}, layers.EthernetTypeIPv4), ip, gopacket.Payload(body))
}

var synOptions = []layers.TCPOption{
	{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
	{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
	{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 0}},
	{OptionType: layers.TCPOptionKindNop},
	{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
}

// craftedCase is a crafted frame and the text Format must print for it.
type craftedCase struct {
	name string
	data []byte
	want string
}

func craftedCases(t testing.TB) []craftedCase {
	return []craftedCase{
		{"arp request", arpPacket(t, ARPRequest, macA, ipA, zeroHW, ipB),
			"ARP, Request who-has 10.0.1.3 tell 10.0.1.2, length 46"},
		{"arp reply", arpPacket(t, ARPReply, macB, ipB, macA, ipA),
			"ARP, Reply 10.0.1.3 is-at 02:00:00:00:00:02, length 46"},
		{"arp request with target mac", arpPacket(t, ARPRequest, macA, ipA, macB, ipB),
			"ARP, Request who-has 10.0.1.3 (02:00:00:00:00:02) tell 10.0.1.2, length 46"},
		{"gratuitous arp request", arpPacket(t, ARPRequest, macV, ipVIP, zeroHW, ipVIP),
			"ARP, Request who-has 10.0.1.100 tell 10.0.1.100, length 46 (gratuitous)"},
		{"gratuitous arp reply", arpPacket(t, ARPReply, macV, ipVIP, layers.EthernetBroadcast, ipVIP),
			"ARP, Reply 10.0.1.100 is-at 00:00:5e:00:01:33, length 46 (gratuitous)"},
		{"tcp syn", tcpPacket(t, ipA, ipB, &layers.TCP{SrcPort: 45678, DstPort: 8081, Seq: 1000, SYN: true, Window: 64240, Options: synOptions}, ""),
			"IP 10.0.1.2.45678 > 10.0.1.3.8081: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"},
		{"tcp syn-ack", tcpPacket(t, ipB, ipA, &layers.TCP{SrcPort: 8081, DstPort: 45678, Seq: 5000, Ack: 1001, SYN: true, ACK: true, Window: 65160}, ""),
			"IP 10.0.1.3.8081 > 10.0.1.2.45678: Flags [S.], seq 5000, ack 1001, win 65160, length 0"},
		{"tcp ack", tcpPacket(t, ipA, ipB, &layers.TCP{SrcPort: 45678, DstPort: 8081, Seq: 1001, Ack: 5001, ACK: true, Window: 502}, ""),
			"IP 10.0.1.2.45678 > 10.0.1.3.8081: Flags [.], ack 5001, win 502, length 0"},
		{"tcp push", tcpPacket(t, ipA, ipB, &layers.TCP{SrcPort: 45678, DstPort: 8081, Seq: 1001, Ack: 5001, ACK: true, PSH: true, Window: 502}, "hello"),
			"IP 10.0.1.2.45678 > 10.0.1.3.8081: Flags [P.], seq 1001:1006, ack 5001, win 502, length 5"},
		{"tcp fin", tcpPacket(t, ipA, ipB, &layers.TCP{SrcPort: 45678, DstPort: 8081, Seq: 1006, Ack: 5001, ACK: true, FIN: true, Window: 502}, ""),
			"IP 10.0.1.2.45678 > 10.0.1.3.8081: Flags [F.], seq 1006, ack 5001, win 502, length 0"},
		{"tcp rst", tcpPacket(t, ipA, ipB, &layers.TCP{SrcPort: 45678, DstPort: 8081, Seq: 1007, RST: true}, ""),
			"IP 10.0.1.2.45678 > 10.0.1.3.8081: Flags [R], seq 1007, win 0, length 0"},
		{"tcp rst-ack", tcpPacket(t, ipB, ipA, &layers.TCP{SrcPort: 8081, DstPort: 45678, Seq: 0, Ack: 1001, RST: true, ACK: true}, ""),
			"IP 10.0.1.3.8081 > 10.0.1.2.45678: Flags [R.], seq 0, ack 1001, win 0, length 0"},
		{"http request", tcpPacket(t, ipA, ipB, &layers.TCP{SrcPort: 45678, DstPort: 80, Seq: 1001, Ack: 5001, ACK: true, PSH: true, Window: 502}, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
			"IP 10.0.1.2.45678 > 10.0.1.3.80: Flags [P.], seq 1001:1028, ack 5001, win 502, length 27: HTTP: GET / HTTP/1.1"},
		{"http response", tcpPacket(t, ipB, ipA, &layers.TCP{SrcPort: 8080, DstPort: 45678, Seq: 5001, Ack: 1028, ACK: true, PSH: true, Window: 509}, "HTTP/1.1 200 OK\r\n\r\n"),
			"IP 10.0.1.3.8080 > 10.0.1.2.45678: Flags [P.], seq 5001:5020, ack 1028, win 509, length 19: HTTP: HTTP/1.1 200 OK"},
		{"udp", udpPacket(t, ipA, ipB, 5000, 6000, "hello"),
			"IP 10.0.1.2.5000 > 10.0.1.3.6000: UDP, length 5"},
		{"icmp echo request", icmpEcho(t, ipA, ipB, ICMPEchoRequest, 1234, 1),
			"IP 10.0.1.2 > 10.0.1.3: ICMP echo request, id 1234, seq 1, length 64"},
		{"icmp echo reply", icmpEcho(t, ipB, ipA, ICMPEchoReply, 1234, 1),
			"IP 10.0.1.3 > 10.0.1.2: ICMP echo reply, id 1234, seq 1, length 64"},
		{"icmp port unreachable", icmpError(t, 3, 3),
			"IP 10.0.1.2 > 10.0.1.3: ICMP 10.0.1.2 udp port 6000 unreachable, length 37"},
		{"icmp host unreachable", icmpError(t, 3, 1),
			"IP 10.0.1.2 > 10.0.1.3: ICMP host 10.0.1.2 unreachable, length 37"},
		{"icmp time exceeded", icmpError(t, 11, 0),
			"IP 10.0.1.2 > 10.0.1.3: ICMP time exceeded in-transit, length 37"},
		{"vrrpv2 simple auth", vrrpPacket(t, ipA, &VRRP{Version: 2, VRID: 111, Priority: 95, AuthType: VRRPAuthSimple, Interval: time.Second, Addrs: []netip.Addr{ipVIP}, Auth: []byte("Security")}),
			`IP 10.0.1.2 > 224.0.0.18: VRRPv2, Advertisement, vrid 111, prio 95, authtype simple, intvl 1s, length 20, addrs: 10.0.1.100 auth "Security"`},
		{"vrrpv2 two addresses", vrrpPacket(t, ipA, &VRRP{Version: 2, VRID: 51, Priority: 100, Interval: 3 * time.Second, Addrs: []netip.Addr{ipVIP, ipVIP2}}),
			"IP 10.0.1.2 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 100, authtype none, intvl 3s, length 24, addrs(2): 10.0.1.100,10.0.1.101"},
		{"vrrpv2 resign", vrrpPacket(t, ipA, &VRRP{Version: 2, VRID: 51, Priority: 0, AuthType: VRRPAuthSimple, Interval: time.Second, Addrs: []netip.Addr{ipVIP}, Auth: []byte("pw")}),
			`IP 10.0.1.2 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 0, authtype simple, intvl 1s, length 20, addrs: 10.0.1.100 auth "pw"`},
		{"vrrpv3", vrrpPacket(t, ipB, &VRRP{Version: 3, VRID: 51, Priority: 150, Interval: 3 * time.Second, Addrs: []netip.Addr{ipVIP, ipVIP2}}),
			"IP 10.0.1.3 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 150, intvl 300cs, length 16, addrs(2): 10.0.1.100,10.0.1.101"},
		{"vrrpv3 one address", vrrpPacket(t, ipB, &VRRP{Version: 3, VRID: 7, Priority: 100, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{ipVIP}}),
			"IP 10.0.1.3 > 224.0.0.18: VRRPv3, Advertisement, vrid 7, prio 100, intvl 10cs, length 12, addrs: 10.0.1.100"},
	}
}
