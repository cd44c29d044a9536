package capture

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoder decodes Ethernet frames with a reusable gopacket
// DecodingLayerParser. It is not safe for concurrent use; every capture
// goroutine owns one.
type decoder struct {
	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	arp    layers.ARP
	ip4    layers.IPv4
	ip6    layers.IPv6
	tcp    layers.TCP
	udp    layers.UDP
	icmp4  layers.ICMPv4
	icmp6  layers.ICMPv6
	pay    gopacket.Payload
	parser *gopacket.DecodingLayerParser
	found  []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&d.eth, &d.dot1q, &d.arp, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.pay)
	d.parser.IgnoreUnsupported = true
	d.found = make([]gopacket.LayerType, 0, 8)
	return d
}

// Decode decodes an Ethernet frame into a Packet (without node, interface
// and time). It never fails: what could not be decoded is described in
// DecodeErr. data is referenced, not copied.
func Decode(data []byte) Packet {
	p := Packet{Data: data, Len: len(data)}
	newDecoder().decode(&p)
	return p
}

// decode fills the decoded fields of p from p.Data.
func (d *decoder) decode(p *Packet) {
	d.found = d.found[:0]
	err := d.parser.DecodeLayers(p.Data, &d.found)
	if err != nil {
		p.DecodeErr = err.Error()
	}
	for _, lt := range d.found {
		switch lt {
		case layers.LayerTypeEthernet:
			p.SrcMAC = cloneMAC(d.eth.SrcMAC)
			p.DstMAC = cloneMAC(d.eth.DstMAC)
			p.EtherType = uint16(d.eth.EthernetType)
		case layers.LayerTypeDot1Q:
			p.EtherType = uint16(d.dot1q.Type)
		case layers.LayerTypeARP:
			d.fillARP(p)
		case layers.LayerTypeIPv4:
			d.fillIPv4(p)
		case layers.LayerTypeIPv6:
			d.fillIPv6(p)
		case layers.LayerTypeTCP:
			d.fillTCP(p)
		case layers.LayerTypeUDP:
			d.fillUDP(p)
		case layers.LayerTypeICMPv4:
			p.ICMP = &ICMP{Version: 4, Type: d.icmp4.TypeCode.Type(), Code: d.icmp4.TypeCode.Code(),
				ID: d.icmp4.Id, Seq: d.icmp4.Seq, Len: p.ipPayloadLen(len(d.icmp4.Contents) + len(d.icmp4.Payload)),
				Body: append([]byte(nil), d.icmp4.Contents[4:]...)}
			p.ICMP.Body = append(p.ICMP.Body, d.icmp4.Payload...)
		case layers.LayerTypeICMPv6:
			d.fillICMPv6(p)
		}
	}
	if p.IP != nil && p.IP.Proto == IPProtoVRRP && !p.IP.Fragment {
		payload := d.ip4.Payload
		if p.IP.Version == 6 {
			payload = d.ip6.Payload
		}
		v, verr := DecodeVRRP(payload, p.IP.Src, p.IP.Dst, p.IP.PayloadLen)
		if v != nil && (v.Version == 2 || v.Version == 3) {
			p.VRRP = v
		}
		if verr != nil && p.DecodeErr == "" {
			p.DecodeErr = verr.Error()
		}
	}
}

// ipPayloadLen is the upper-layer length as the IP header states it, or
// fallback when the packet has no IP header.
func (p *Packet) ipPayloadLen(fallback int) int {
	if p.IP != nil {
		return p.IP.PayloadLen
	}
	return fallback
}

func (d *decoder) fillARP(p *Packet) {
	a := &d.arp
	if a.AddrType != layers.LinkTypeEthernet || a.Protocol != layers.EthernetTypeIPv4 ||
		a.HwAddressSize != 6 || a.ProtAddressSize != 4 {
		p.DecodeErr = fmt.Sprintf("arp: unsupported hardware %v / protocol %v", a.AddrType, a.Protocol)
		return
	}
	sip, _ := netip.AddrFromSlice(a.SourceProtAddress)
	tip, _ := netip.AddrFromSlice(a.DstProtAddress)
	p.ARP = &ARP{
		Op:        a.Operation,
		SenderMAC: cloneMAC(a.SourceHwAddress),
		SenderIP:  sip,
		TargetMAC: cloneMAC(a.DstHwAddress),
		TargetIP:  tip,
		Len:       len(a.Contents) + len(a.Payload),
	}
}

func (d *decoder) fillIPv4(p *Packet) {
	ip := &d.ip4
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	p.IP = &IP{
		Version:    4,
		Src:        src,
		Dst:        dst,
		Proto:      uint8(ip.Protocol),
		TTL:        ip.TTL,
		ID:         ip.Id,
		PayloadLen: int(ip.Length) - int(ip.IHL)*4,
		Fragment:   ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0,
	}
}

func (d *decoder) fillIPv6(p *Packet) {
	ip := &d.ip6
	src, _ := netip.AddrFromSlice(ip.SrcIP.To16())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To16())
	p.IP = &IP{
		Version:    6,
		Src:        src,
		Dst:        dst,
		Proto:      uint8(ip.NextHeader),
		TTL:        ip.HopLimit,
		PayloadLen: int(ip.Length),
	}
	if ip.HopByHop != nil {
		// gopacket folds the hop-by-hop header into the IPv6 layer.
		p.IP.HopByHop = true
		p.IP.Proto = uint8(ip.HopByHop.NextHeader)
		p.IP.PayloadLen -= ip.HopByHop.ActualLength
	}
}

func (d *decoder) fillTCP(p *Packet) {
	t := &d.tcp
	var f TCPFlags
	for _, b := range []struct {
		set  bool
		flag TCPFlags
	}{{t.FIN, FlagFIN}, {t.SYN, FlagSYN}, {t.RST, FlagRST}, {t.PSH, FlagPSH},
		{t.ACK, FlagACK}, {t.URG, FlagURG}, {t.ECE, FlagECE}, {t.CWR, FlagCWR}} {
		if b.set {
			f |= b.flag
		}
	}
	plen := len(t.Payload)
	if p.IP != nil {
		plen = p.IP.PayloadLen - int(t.DataOffset)*4
	}
	p.TCP = &TCP{
		SrcPort:    uint16(t.SrcPort),
		DstPort:    uint16(t.DstPort),
		Flags:      f,
		Seq:        t.Seq,
		Ack:        t.Ack,
		Window:     t.Window,
		Urgent:     t.Urgent,
		Options:    tcpOptions(t.Options),
		PayloadLen: plen,
		Payload:    append([]byte(nil), t.Payload...),
	}
}

func (d *decoder) fillUDP(p *Packet) {
	u := &d.udp
	p.UDP = &UDP{SrcPort: uint16(u.SrcPort), DstPort: uint16(u.DstPort), PayloadLen: int(u.Length) - 8}
}

func (d *decoder) fillICMPv6(p *Packet) {
	c := &d.icmp6
	body := c.Payload
	ic := &ICMP{Version: 6, Type: c.TypeCode.Type(), Code: c.TypeCode.Code(),
		Len: p.ipPayloadLen(len(c.Contents) + len(c.Payload)), Body: append([]byte(nil), body...)}
	if (ic.Type == layers.ICMPv6TypeEchoRequest || ic.Type == layers.ICMPv6TypeEchoReply) && len(body) >= 4 {
		ic.ID = binary.BigEndian.Uint16(body[0:2])
		ic.Seq = binary.BigEndian.Uint16(body[2:4])
	}
	p.ICMP = ic
}

func cloneMAC(m net.HardwareAddr) net.HardwareAddr {
	if m == nil {
		return nil
	}
	return append(net.HardwareAddr(nil), m...)
}

// tcpOptions renders TCP options as tcpdump does: "mss 1460,sackOK,TS val
// 1 ecr 0,nop,wscale 7".
func tcpOptions(opts []layers.TCPOption) string {
	if len(opts) == 0 {
		return ""
	}
	parts := make([]string, 0, len(opts))
	for _, o := range opts {
		d := o.OptionData
		switch o.OptionType {
		case layers.TCPOptionKindEndList:
			parts = append(parts, "eol")
		case layers.TCPOptionKindNop:
			parts = append(parts, "nop")
		case layers.TCPOptionKindMSS:
			if len(d) == 2 {
				parts = append(parts, fmt.Sprintf("mss %d", binary.BigEndian.Uint16(d)))
			} else {
				parts = append(parts, "mss [bad length]")
			}
		case layers.TCPOptionKindWindowScale:
			if len(d) == 1 {
				parts = append(parts, fmt.Sprintf("wscale %d", d[0]))
			} else {
				parts = append(parts, "wscale [bad length]")
			}
		case layers.TCPOptionKindSACKPermitted:
			parts = append(parts, "sackOK")
		case layers.TCPOptionKindSACK:
			var b strings.Builder
			fmt.Fprintf(&b, "sack %d", len(d)/8)
			for i := 0; i+8 <= len(d); i += 8 {
				fmt.Fprintf(&b, " {%d:%d}", binary.BigEndian.Uint32(d[i:]), binary.BigEndian.Uint32(d[i+4:]))
			}
			parts = append(parts, b.String())
		case layers.TCPOptionKindTimestamps:
			if len(d) == 8 {
				parts = append(parts, fmt.Sprintf("TS val %d ecr %d", binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])))
			} else {
				parts = append(parts, "TS [bad length]")
			}
		default:
			parts = append(parts, fmt.Sprintf("opt-%d", uint8(o.OptionType)))
		}
	}
	return strings.Join(parts, ",")
}
