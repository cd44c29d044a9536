package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// TimeFormat is the timestamp layout of trace lines, tcpdump's default.
const TimeFormat = "15:04:05.000000"

// FormatLine renders p as one trace line: node and interface, the local
// time and the tcpdump-style text of [Format]:
//
//	nginx02:eth0 12:00:01.000123 IP 10.0.1.3 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 90, ...
func FormatLine(p *Packet) string {
	return fmt.Sprintf("%s %s %s", Label(p.Node, p.Iface), p.Time.Local().Format(TimeFormat), Format(p))
}

// Label joins a node and interface name as trace lines show them
// ("nginx01:eth0"); either part may be empty.
func Label(node, iface string) string {
	switch {
	case node == "":
		return iface
	case iface == "":
		return node
	}
	return node + ":" + iface
}

// Format renders a decoded packet the way `tcpdump -n -S` prints it, without
// timestamp: "ARP, Request who-has 10.0.1.1 tell 10.0.1.10, length 28",
// "IP 10.0.1.10.40000 > 10.0.1.1.80: Flags [S], seq 1, win 64240, ...".
// Differences from tcpdump: sequence numbers are absolute (as with -S),
// VRRP always shows its addresses and password (tcpdump needs -v), and
// gratuitous ARP ends with " (gratuitous)".
func Format(p *Packet) string {
	var b strings.Builder
	switch {
	case p.ARP != nil:
		formatARP(&b, p.ARP)
	case p.IP != nil:
		formatIP(&b, p)
	case p.SrcMAC == nil:
		fmt.Fprintf(&b, "[|ether] length %d", p.Len)
	default:
		fmt.Fprintf(&b, "ethertype 0x%04x, length %d", p.EtherType, max(p.Len-14, 0))
	}
	if p.DecodeErr != "" {
		fmt.Fprintf(&b, " [|%s]", p.DecodeErr)
	}
	return b.String()
}

func formatARP(b *strings.Builder, a *ARP) {
	switch a.Op {
	case ARPRequest:
		fmt.Fprintf(b, "ARP, Request who-has %s", a.TargetIP)
		if !isZero(a.TargetMAC) {
			fmt.Fprintf(b, " (%s)", a.TargetMAC)
		}
		fmt.Fprintf(b, " tell %s", a.SenderIP)
	case ARPReply:
		fmt.Fprintf(b, "ARP, Reply %s is-at %s", a.SenderIP, a.SenderMAC)
	default:
		fmt.Fprintf(b, "ARP, op %d %s > %s", a.Op, a.SenderIP, a.TargetIP)
	}
	fmt.Fprintf(b, ", length %d", a.Len)
	if a.Gratuitous() {
		b.WriteString(" (gratuitous)")
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// hostPort renders an address with an optional port, tcpdump style
// ("10.0.0.1.80", "fe80::1.80").
func hostPort(a netip.Addr, port uint16, withPort bool) string {
	if !withPort {
		return a.String()
	}
	return fmt.Sprintf("%s.%d", a, port)
}

func formatIP(b *strings.Builder, p *Packet) {
	ip := p.IP
	if ip.Version == 6 {
		b.WriteString("IP6 ")
	} else {
		b.WriteString("IP ")
	}
	sp, dp, ports := p.Ports()
	fmt.Fprintf(b, "%s > %s: ", hostPort(ip.Src, sp, ports), hostPort(ip.Dst, dp, ports))
	if ip.HopByHop {
		b.WriteString("HBH ")
	}
	switch {
	case p.TCP != nil:
		formatTCP(b, p.TCP)
	case p.UDP != nil:
		fmt.Fprintf(b, "UDP, length %d", p.UDP.PayloadLen)
	case p.ICMP != nil && p.ICMP.Version == 4:
		formatICMP4(b, p.ICMP)
	case p.ICMP != nil:
		formatICMP6(b, p.ICMP)
	case p.VRRP != nil:
		formatVRRP(b, p.VRRP)
	case ip.Version == 4 && ip.Proto == uint8(layers.IPProtocolIGMP):
		formatIGMP(b, p)
	default:
		fmt.Fprintf(b, " ip-proto-%d %d", ip.Proto, ip.PayloadLen)
	}
}

func formatTCP(b *strings.Builder, t *TCP) {
	fmt.Fprintf(b, "Flags [%s]", t.Flags)
	if t.PayloadLen > 0 || t.Flags&(FlagSYN|FlagFIN|FlagRST) != 0 {
		fmt.Fprintf(b, ", seq %d", t.Seq)
		if t.PayloadLen > 0 {
			fmt.Fprintf(b, ":%d", t.Seq+uint32(t.PayloadLen))
		}
	}
	if t.Flags&FlagACK != 0 {
		fmt.Fprintf(b, ", ack %d", t.Ack)
	}
	fmt.Fprintf(b, ", win %d", t.Window)
	if t.Flags&FlagURG != 0 {
		fmt.Fprintf(b, ", urg %d", t.Urgent)
	}
	if t.Options != "" {
		fmt.Fprintf(b, ", options [%s]", t.Options)
	}
	fmt.Fprintf(b, ", length %d", t.PayloadLen)
	if t.PayloadLen > 0 && isHTTPPort(t.SrcPort, t.DstPort) {
		b.WriteString(": HTTP")
		if line, ok := httpFirstLine(t.Payload); ok {
			fmt.Fprintf(b, ": %s", line)
		}
	}
}

func isHTTPPort(ports ...uint16) bool {
	for _, p := range ports {
		if p == 80 || p == 8080 {
			return true
		}
	}
	return false
}

var httpMethods = []string{"GET ", "PUT ", "POST ", "HEAD ", "DELETE ", "OPTIONS ", "TRACE ", "CONNECT ", "PATCH ", "HTTP/"}

// httpFirstLine returns the request or status line of an HTTP message, as
// tcpdump shows it after "HTTP: ".
func httpFirstLine(payload []byte) (string, bool) {
	ok := false
	for _, m := range httpMethods {
		if bytes.HasPrefix(payload, []byte(m)) {
			ok = true
			break
		}
	}
	if !ok {
		return "", false
	}
	end := bytes.IndexAny(payload, "\r\n")
	if end < 0 {
		return "", false
	}
	line := payload[:end]
	for _, c := range line {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return string(line), true
}

func formatICMP4(b *strings.Builder, c *ICMP) {
	switch c.Type {
	case ICMPEchoRequest, ICMPEchoReply:
		kind := "request"
		if c.Type == ICMPEchoReply {
			kind = "reply"
		}
		fmt.Fprintf(b, "ICMP echo %s, id %d, seq %d", kind, c.ID, c.Seq)
	case ICMPUnreachable:
		b.WriteString("ICMP ")
		b.WriteString(unreachText(c))
	case ICMPTimeExceed:
		if c.Code == 1 {
			b.WriteString("ICMP ip reassembly time exceeded")
		} else {
			b.WriteString("ICMP time exceeded in-transit")
		}
	default:
		fmt.Fprintf(b, "ICMP type-#%d", c.Type)
	}
	fmt.Fprintf(b, ", length %d", c.Len)
}

// unreachText describes an ICMPv4 destination unreachable from the quoted
// datagram in its body.
func unreachText(c *ICMP) string {
	inner := c.Body
	if len(inner) < 4+20 || inner[4]>>4 != 4 {
		return fmt.Sprintf("unreachable, code %d", c.Code)
	}
	inner = inner[4:]
	ihl := int(inner[0]&0x0f) * 4
	dst, _ := netip.AddrFromSlice(inner[16:20])
	proto := inner[9]
	var port uint16
	if ihl >= 20 && len(inner) >= ihl+4 {
		port = binary.BigEndian.Uint16(inner[ihl+2:])
	}
	switch c.Code {
	case 0:
		return fmt.Sprintf("net %s unreachable", dst)
	case 1:
		return fmt.Sprintf("host %s unreachable", dst)
	case 2:
		return fmt.Sprintf("%s protocol %d unreachable", dst, proto)
	case 3:
		switch proto {
		case uint8(layers.IPProtocolUDP):
			return fmt.Sprintf("%s udp port %d unreachable", dst, port)
		case uint8(layers.IPProtocolTCP):
			return fmt.Sprintf("%s tcp port %d unreachable", dst, port)
		}
		return fmt.Sprintf("%s protocol %d port %d unreachable", dst, proto, port)
	case 4:
		mtu := binary.BigEndian.Uint16(c.Body[2:4])
		return fmt.Sprintf("%s unreachable - need to frag (mtu %d)", dst, mtu)
	}
	return fmt.Sprintf("%s unreachable - code %d", dst, c.Code)
}

func formatICMP6(b *strings.Builder, c *ICMP) {
	b.WriteString("ICMP6, ")
	target := func() string {
		if len(c.Body) >= 20 {
			a, _ := netip.AddrFromSlice(c.Body[4:20])
			return a.String()
		}
		return "?"
	}
	switch c.Type {
	case layers.ICMPv6TypeEchoRequest:
		fmt.Fprintf(b, "echo request, id %d, seq %d", c.ID, c.Seq)
	case layers.ICMPv6TypeEchoReply:
		fmt.Fprintf(b, "echo reply, id %d, seq %d", c.ID, c.Seq)
	case layers.ICMPv6TypeNeighborSolicitation:
		fmt.Fprintf(b, "neighbor solicitation, who has %s", target())
	case layers.ICMPv6TypeNeighborAdvertisement:
		fmt.Fprintf(b, "neighbor advertisement, tgt is %s", target())
	case layers.ICMPv6TypeRouterSolicitation:
		b.WriteString("router solicitation")
	case layers.ICMPv6TypeRouterAdvertisement:
		b.WriteString("router advertisement")
	case layers.ICMPv6TypeDestinationUnreachable:
		b.WriteString("destination unreachable")
	case 143:
		n := 0
		if len(c.Body) >= 4 {
			n = int(binary.BigEndian.Uint16(c.Body[2:4]))
		}
		fmt.Fprintf(b, "multicast listener report v2, %d group record(s)", n)
	default:
		fmt.Fprintf(b, "type %d", c.Type)
	}
	fmt.Fprintf(b, ", length %d", c.Len)
}

func formatIGMP(b *strings.Builder, p *Packet) {
	// The IGMP message is not a gopacket layer here: find it after the
	// IPv4 header in the raw frame.
	msg := ipPayload(p)
	if len(msg) < 8 {
		b.WriteString("igmp")
		return
	}
	group, _ := netip.AddrFromSlice(msg[4:8])
	switch msg[0] {
	case 0x11:
		b.WriteString("igmp query")
	case 0x16:
		fmt.Fprintf(b, "igmp v2 report %s", group)
	case 0x17:
		fmt.Fprintf(b, "igmp leave %s", group)
	case 0x22:
		fmt.Fprintf(b, "igmp v3 report, %d group record(s)", binary.BigEndian.Uint16(msg[6:8]))
	default:
		fmt.Fprintf(b, "igmp type 0x%02x", msg[0])
	}
}

// ipPayload returns the captured bytes after an untagged IPv4 header.
func ipPayload(p *Packet) []byte {
	if len(p.Data) < 14+20 || p.EtherType != uint16(layers.EthernetTypeIPv4) {
		return nil
	}
	ihl := int(p.Data[14]&0x0f) * 4
	if len(p.Data) < 14+ihl {
		return nil
	}
	return p.Data[14+ihl:]
}

var vrrpAuthNames = map[uint8]string{VRRPAuthNone: "none", VRRPAuthSimple: "simple", VRRPAuthAH: "ah"}

func formatVRRP(b *strings.Builder, v *VRRP) {
	typ := "Advertisement"
	if !v.Advertisement() {
		typ = fmt.Sprintf("unknown type (%d)", v.Type)
	}
	fmt.Fprintf(b, "VRRPv%d, %s", v.Version, typ)
	if !v.Advertisement() {
		return
	}
	fmt.Fprintf(b, ", vrid %d, prio %d", v.VRID, v.Priority)
	if v.Version == 2 {
		name, ok := vrrpAuthNames[v.AuthType]
		if !ok {
			name = fmt.Sprintf("#%d", v.AuthType)
		}
		fmt.Fprintf(b, ", authtype %s, intvl %ds, length %d", name, v.Interval/time.Second, v.Len)
	} else {
		fmt.Fprintf(b, ", intvl %dcs, length %d", v.Interval/(10*time.Millisecond), v.Len)
	}
	if !v.ChecksumOK {
		fmt.Fprintf(b, ", (bad vrrp cksum %x)", v.Checksum)
	}
	b.WriteString(", addrs")
	if len(v.Addrs) > 1 {
		fmt.Fprintf(b, "(%d)", len(v.Addrs))
	}
	b.WriteString(":")
	sep := " "
	for _, a := range v.Addrs {
		b.WriteString(sep)
		b.WriteString(a.String())
		sep = ","
	}
	if v.Version == 2 && v.AuthType == VRRPAuthSimple && v.Auth != nil {
		fmt.Fprintf(b, " auth %q", v.AuthString())
	}
}
