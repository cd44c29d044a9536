package capture

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Pattern describes the packets a trace expectation looks for. The zero
// Pattern (or [AnyPacket]) matches every packet; each method returns a
// narrowed copy, so patterns read like sentences:
//
//	capture.VRRPAdvert().VRID(51).Priority(90).From(nginx02IP).On("nginx02", "eth0")
//	capture.GratuitousARP(vip).FromMAC(newMasterMAC)
//	capture.TCPSegment(capture.FlagSYN).To(vip).DstPort(80)
type Pattern struct {
	proto Proto
	desc  []string
	preds []func(*Packet) bool
	label string
}

// AnyPacket returns the pattern matching every packet.
func AnyPacket() Pattern { return Pattern{} }

// VRRPAdvert matches VRRP advertisements (either version).
func VRRPAdvert() Pattern {
	return Pattern{}.Proto(ProtoVRRP).with("advert", func(p *Packet) bool { return p.VRRP.Advertisement() })
}

// GratuitousARP matches gratuitous ARP requests or replies announcing addr
// (sender and target protocol address both addr).
func GratuitousARP(addr netip.Addr) Pattern {
	return Pattern{}.Proto(ProtoARP).with("gratuitous "+addr.String(), func(p *Packet) bool {
		return p.ARP.Gratuitous() && p.ARP.SenderIP == addr
	})
}

// TCPSegment matches TCP segments whose flags are exactly flags
// (FlagSYN for "[S]", FlagSYN|FlagACK for "[S.]", FlagACK for "[.]", ...).
func TCPSegment(flags TCPFlags) Pattern {
	return Pattern{}.TCPFlags(flags)
}

// with returns a copy of p with one more condition. Slices are copied so
// that patterns derived from a common base never share state.
func (p Pattern) with(desc string, pred func(*Packet) bool) Pattern {
	q := p
	q.desc = append(append(make([]string, 0, len(p.desc)+1), p.desc...), desc)
	q.preds = append(append(make([]func(*Packet) bool, 0, len(p.preds)+1), p.preds...), pred)
	return q
}

// Proto narrows the pattern to packets carrying proto.
func (p Pattern) Proto(proto Proto) Pattern {
	q := p.with(string(proto), func(pk *Packet) bool { return pk.Is(proto) })
	q.proto = proto
	return q
}

// needs narrows to proto unless the pattern already names a protocol; it
// makes protocol-specific conditions imply their protocol.
func (p Pattern) needs(proto Proto) Pattern {
	if p.proto == proto {
		return p
	}
	return p.Proto(proto)
}

// On narrows the pattern to packets captured on node, and on iface unless
// iface is empty.
func (p Pattern) On(node, iface string) Pattern {
	return p.with("on "+Label(node, iface), func(pk *Packet) bool {
		return pk.Node == node && (iface == "" || pk.Iface == iface)
	})
}

// From narrows to packets whose IP source (or ARP sender) is a.
func (p Pattern) From(a netip.Addr) Pattern {
	return p.with("from "+a.String(), func(pk *Packet) bool { return pk.Src() == a })
}

// To narrows to packets whose IP destination (or ARP target) is a.
func (p Pattern) To(a netip.Addr) Pattern {
	return p.with("to "+a.String(), func(pk *Packet) bool { return pk.Dst() == a })
}

// FromMAC narrows to frames whose Ethernet source address is mac.
func (p Pattern) FromMAC(mac net.HardwareAddr) Pattern {
	m := cloneMAC(mac)
	return p.with("from mac "+m.String(), func(pk *Packet) bool { return bytes.Equal(pk.SrcMAC, m) })
}

// VRID narrows to VRRP messages for virtual router id.
func (p Pattern) VRID(id uint8) Pattern {
	return p.needs(ProtoVRRP).with(fmt.Sprintf("vrid %d", id), func(pk *Packet) bool { return pk.VRRP.VRID == id })
}

// Priority narrows to VRRP messages with priority prio (0 is a master
// resigning).
func (p Pattern) Priority(prio uint8) Pattern {
	return p.needs(ProtoVRRP).with(fmt.Sprintf("prio %d", prio), func(pk *Packet) bool { return pk.VRRP.Priority == prio })
}

// VRRPVersion narrows to VRRP messages of version v (2 or 3).
func (p Pattern) VRRPVersion(v uint8) Pattern {
	return p.needs(ProtoVRRP).with(fmt.Sprintf("VRRPv%d", v), func(pk *Packet) bool { return pk.VRRP.Version == v })
}

// ARPOp narrows to ARP messages with operation op (ARPRequest, ARPReply).
func (p Pattern) ARPOp(op uint16) Pattern {
	name := map[uint16]string{ARPRequest: "request", ARPReply: "reply"}[op]
	if name == "" {
		name = fmt.Sprintf("op %d", op)
	}
	return p.needs(ProtoARP).with(name, func(pk *Packet) bool { return pk.ARP.Op == op })
}

// TCPFlags narrows to TCP segments whose flags are exactly f.
func (p Pattern) TCPFlags(f TCPFlags) Pattern {
	return p.needs(ProtoTCP).with("["+f.String()+"]", func(pk *Packet) bool { return pk.TCP.Flags == f })
}

// SrcPort narrows to TCP or UDP packets from port n.
func (p Pattern) SrcPort(n uint16) Pattern {
	return p.with(fmt.Sprintf("src port %d", n), func(pk *Packet) bool {
		s, _, ok := pk.Ports()
		return ok && s == n
	})
}

// DstPort narrows to TCP or UDP packets to port n.
func (p Pattern) DstPort(n uint16) Pattern {
	return p.with(fmt.Sprintf("dst port %d", n), func(pk *Packet) bool {
		_, d, ok := pk.Ports()
		return ok && d == n
	})
}

// Port narrows to TCP or UDP packets from or to port n.
func (p Pattern) Port(n uint16) Pattern {
	return p.with(fmt.Sprintf("port %d", n), func(pk *Packet) bool {
		s, d, ok := pk.Ports()
		return ok && (s == n || d == n)
	})
}

// ICMPType narrows to ICMP messages of type typ (ICMPEchoRequest, ...).
func (p Pattern) ICMPType(typ uint8) Pattern {
	return p.needs(ProtoICMP).with(fmt.Sprintf("type %d", typ), func(pk *Packet) bool { return pk.ICMP.Type == typ })
}

// Where narrows with any condition; desc names it in failure messages.
func (p Pattern) Where(desc string, pred func(*Packet) bool) Pattern {
	return p.with(desc, pred)
}

// Named sets the name failure messages use for the pattern, instead of the
// generated description ("advert from nginx02").
func (p Pattern) Named(name string) Pattern {
	q := p
	q.label = name
	return q
}

// Match reports whether packet pk satisfies every condition of the pattern.
func (p Pattern) Match(pk *Packet) bool {
	for _, pred := range p.preds {
		if !pred(pk) {
			return false
		}
	}
	return true
}

// String describes the pattern ("vrrp advert vrid 51 prio 90 from 10.0.1.3").
func (p Pattern) String() string {
	if p.label != "" {
		return p.label
	}
	if len(p.desc) == 0 {
		return "any packet"
	}
	return strings.Join(p.desc, " ")
}

// Select returns the packets matching pattern, in their order.
func Select(packets []Packet, pattern Pattern) []Packet {
	var out []Packet
	for i := range packets {
		if pattern.Match(&packets[i]) {
			out = append(out, packets[i])
		}
	}
	return out
}
