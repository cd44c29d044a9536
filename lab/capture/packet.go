package capture

import (
	"net"
	"net/netip"
	"time"
)

// Packet is one captured frame, where and when it was seen, and its decoded
// headers. Headers that are absent from the frame are nil.
type Packet struct {
	Node  string    // node label given to the capture (e.g. "nginx01")
	Iface string    // interface the packet was captured on (e.g. "eth0")
	Time  time.Time // kernel receive timestamp
	Len   int       // length of the frame on the wire
	Data  []byte    // captured bytes, starting with the Ethernet header

	SrcMAC, DstMAC net.HardwareAddr
	EtherType      uint16

	ARP  *ARP
	IP   *IP
	TCP  *TCP
	UDP  *UDP
	ICMP *ICMP
	VRRP *VRRP

	// DecodeErr describes why decoding stopped early (a truncated or
	// malformed header); empty when every present header decoded.
	DecodeErr string
}

// ARP holds the fields of an Ethernet/IPv4 ARP message.
type ARP struct {
	Op        uint16 // 1 request, 2 reply
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
	Len       int // ARP payload length including Ethernet padding, as tcpdump counts it
}

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// Gratuitous reports whether the message announces the sender's own address
// (sender and target protocol addresses are equal), as keepalived and vrrpd
// do for a virtual IP after becoming master.
func (a *ARP) Gratuitous() bool {
	return a.SenderIP.IsValid() && a.SenderIP == a.TargetIP
}

// IP holds the IPv4 or IPv6 header fields used by traces.
type IP struct {
	Version    int // 4 or 6
	Src, Dst   netip.Addr
	Proto      uint8 // IPv4 protocol or IPv6 upper-layer next header
	TTL        uint8 // TTL or hop limit
	ID         uint16
	PayloadLen int  // upper-layer length according to the header (IPv6 extension headers excluded)
	HopByHop   bool // IPv6 packet carries a hop-by-hop options header
	Fragment   bool // IPv4 packet is a fragment (MF set or offset > 0)
}

// TCP holds TCP header fields.
type TCP struct {
	SrcPort, DstPort uint16
	Flags            TCPFlags
	Seq, Ack         uint32
	Window           uint16
	Urgent           uint16
	Options          string // tcpdump rendering, e.g. "mss 1460,sackOK,TS val 1 ecr 0"
	PayloadLen       int
	Payload          []byte // captured payload bytes (may be shorter than PayloadLen)
}

// UDP holds UDP header fields.
type UDP struct {
	SrcPort, DstPort uint16
	PayloadLen       int
}

// ICMP holds ICMPv4 or ICMPv6 fields.
type ICMP struct {
	Version    int // 4 or 6
	Type, Code uint8
	ID, Seq    uint16 // echo request and reply only
	Len        int    // ICMP message length (header and data)
	// Body is the message after the 4-byte header: the quoted datagram of
	// an error message, the target of neighbor discovery messages.
	Body []byte
}

// ICMPv4 types with a name in traces and patterns.
const (
	ICMPEchoReply   = 0
	ICMPUnreachable = 3
	ICMPEchoRequest = 8
	ICMPTimeExceed  = 11
)

// Proto names the highest decoded protocol of a packet.
type Proto string

// Protocols known to patterns and filters.
const (
	ProtoAny  Proto = ""
	ProtoARP  Proto = "arp"
	ProtoIP   Proto = "ip"
	ProtoIP6  Proto = "ip6"
	ProtoTCP  Proto = "tcp"
	ProtoUDP  Proto = "udp"
	ProtoICMP Proto = "icmp"
	ProtoVRRP Proto = "vrrp"
)

// Is reports whether the packet carries the protocol (at any layer).
func (p *Packet) Is(proto Proto) bool {
	switch proto {
	case ProtoAny:
		return true
	case ProtoARP:
		return p.ARP != nil
	case ProtoIP:
		return p.IP != nil && p.IP.Version == 4
	case ProtoIP6:
		return p.IP != nil && p.IP.Version == 6
	case ProtoTCP:
		return p.TCP != nil
	case ProtoUDP:
		return p.UDP != nil
	case ProtoICMP:
		return p.ICMP != nil
	case ProtoVRRP:
		return p.VRRP != nil
	}
	return false
}

// Src returns the packet's source protocol address: the IP source, or the
// ARP sender address. It is invalid when the packet has neither.
func (p *Packet) Src() netip.Addr {
	switch {
	case p.IP != nil:
		return p.IP.Src
	case p.ARP != nil:
		return p.ARP.SenderIP
	}
	return netip.Addr{}
}

// Dst returns the packet's destination protocol address: the IP destination,
// or the ARP target address.
func (p *Packet) Dst() netip.Addr {
	switch {
	case p.IP != nil:
		return p.IP.Dst
	case p.ARP != nil:
		return p.ARP.TargetIP
	}
	return netip.Addr{}
}

// Ports returns the TCP or UDP ports, and false for other packets.
func (p *Packet) Ports() (src, dst uint16, ok bool) {
	switch {
	case p.TCP != nil:
		return p.TCP.SrcPort, p.TCP.DstPort, true
	case p.UDP != nil:
		return p.UDP.SrcPort, p.UDP.DstPort, true
	}
	return 0, 0, false
}
