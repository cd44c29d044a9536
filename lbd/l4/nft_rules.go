package l4

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// lbd's table, for a virtual service i with real servers j (every rule is
// one nft can list and read back):
//
//	chain prerouting/output (nat, dstnat):
//	    tcp flags syn / fin,syn,rst,ack ip daddr . tcp dport vmap @services
//	map services: VIP . port : jump vs<i>
//	chain vs<i>: (rewritten on every health change)
//	    [persistence] ip saddr @vs<i>_p<j> goto vs<i>_rs<j>   (one per live j)
//	    numgen inc mod N vmap { 0 : goto vs<i>_rs<j>, ... }   (rr, wrr)
//	    jhash ip saddr mod N seed S vmap { ... }   (sh)
//	    -- or, with no live real server: dnat to the sorry server, or reject
//	chain vs<i>_rs<j>:
//	    [persistence] update @vs<i>_p<j> { ip saddr }
//	    meta l4proto tcp dnat ip to ADDR:PORT
//	set vs<i>_p<j>: client addresses, dynamic, timeout persistence_timeout
//	chain persistence (filter, forward): a client's traffic to the VIP keeps
//	    its entry alive, like an IPVS persistence template
//	    ct direction original ct original ip daddr VIP ct protocol tcp
//	        ct original proto-dst PORT ip saddr @vs<i>_p<j> update @vs<i>_p<j> { ip saddr }

// Registers used by lbd's rules.
const (
	regAddr = unix.NFT_REG_1    // 128-bit register 1 = 32-bit registers 8..11
	regPort = unix.NFT_REG32_01 // 32-bit register 9
)

// icmpPortUnreach is ICMP destination unreachable code 3.
const icmpPortUnreach = 3

// jhashSeed is fixed so that every director (and every restart) maps a client
// address to the same sh slot, like IPVS's unseeded source hashing.
const jhashSeed = 0x1ab4d

// typeAddrPort is the "ipv4_addr . inet_service" key of the services map.
var typeAddrPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)

// encodeAddrPort is an "ipv4_addr . inet_service" value: address, port in
// network order, padded to the 4-byte register size.
func encodeAddrPort(a netip.AddrPort) []byte {
	b := make([]byte, 8)
	ip := a.Addr().As4()
	copy(b, ip[:])
	binary.BigEndian.PutUint16(b[4:], a.Port())
	return b
}

// encodeSlot is a slot number as a key of the scheduling map: big-endian,
// after the byteorder conversion of numgen's and jhash's host-order result.
func encodeSlot(i int) []byte { return binaryutil.BigEndian.PutUint32(uint32(i)) }

// vsNames name one virtual service's chains and sets in lbd's table.
type vsNames struct{ prefix string }

func namesFor(i int) vsNames           { return vsNames{fmt.Sprintf("vs%d", i)} }
func (n vsNames) chain() string        { return n.prefix }
func (n vsNames) real(j int) string    { return fmt.Sprintf("%s_rs%d", n.prefix, j) }
func (n vsNames) persist(j int) string { return fmt.Sprintf("%s_p%d", n.prefix, j) }

// dispatchExprs is the base-chain rule: a new TCP connection (a SYN without
// ACK, as IPVS only schedules on SYN) to VIP:port jumps through the services
// verdict map to its virtual service's chain.
func dispatchExprs(services *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regAddr},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: regAddr, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: regAddr, DestRegister: regAddr, Len: 1,
			Mask: []byte{0x17}, Xor: []byte{0}}, // fin|syn|rst|ack
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{0x02}}, // syn only
		&expr.Payload{DestRegister: regAddr, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Payload{DestRegister: regPort, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		verdictLookup(services, regAddr),
	}
}

func verdictLookup(s *nftables.Set, sreg uint32) *expr.Lookup {
	return &expr.Lookup{SourceRegister: sreg, IsDestRegSet: true, DestRegister: 0, SetName: s.Name, SetID: s.ID}
}

func loadClient() expr.Any {
	return &expr.Payload{DestRegister: regAddr, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// dnatTo rewrites the destination to a, keeping the client's source. The
// protocol match is redundant (only TCP is dispatched) but lets nft read
// the port mapping back.
func dnatTo(a netip.AddrPort) []expr.Any {
	ip := a.Addr().As4()
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regAddr},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Immediate{Register: regAddr, Data: ip[:]},
		&expr.Immediate{Register: regPort, Data: binaryutil.BigEndian.PutUint16(a.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: regAddr, RegProtoMin: regPort, Specified: true},
	}
}

// updateClient adds the client to a persistence set, or restarts its timeout.
func updateClient(p *nftables.Set) []expr.Any {
	return []expr.Any{loadClient(),
		&expr.Dynset{Operation: unix.NFT_DYNSET_OP_UPDATE, SrcRegKey: regAddr, SetName: p.Name, SetID: p.ID}}
}

// realRules are the rules of chain vs<i>_rs<j>: remember the client when
// the service is persistent (p not nil), and DNAT to the real server.
func realRules(addr netip.AddrPort, p *nftables.Set) [][]expr.Any {
	var r []expr.Any
	if p != nil {
		r = updateClient(p)
	}
	return [][]expr.Any{append(r, dnatTo(addr)...)}
}

// liveReal is a real server in the rotation: its chain and persistence set.
type liveReal struct {
	chain   string
	persist *nftables.Set // nil without persistence
}

// vsRules are the rules of chain vs<i> for nslots scheduling slots (the
// contents of the anonymous slots map) over the live real servers. A client remembered
// by a live real server goes back to it; others are scheduled. With no slot
// the chain sends new connections to the sorry server, or refuses them with
// an ICMP port unreachable as IPVS does when a service has no destination.
func vsRules(spec ServiceSpec, nslots int, slots *nftables.Set, live []liveReal) [][]expr.Any {
	if nslots == 0 {
		if spec.Sorry.IsValid() {
			return [][]expr.Any{dnatTo(spec.Sorry)}
		}
		return [][]expr.Any{{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreach}}}
	}
	var rules [][]expr.Any
	for _, l := range live {
		if l.persist == nil {
			continue
		}
		rules = append(rules, []expr.Any{
			loadClient(),
			&expr.Lookup{SourceRegister: regAddr, SetName: l.persist.Name, SetID: l.persist.ID},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: l.chain},
		})
	}
	var pick []expr.Any
	switch spec.Algo {
	case AlgoSH:
		pick = []expr.Any{loadClient(),
			&expr.Hash{SourceRegister: regAddr, DestRegister: regAddr, Length: 4,
				Modulus: uint32(nslots), Seed: jhashSeed, Type: expr.HashTypeJenkins}}
	default:
		pick = []expr.Any{&expr.Numgen{Register: regAddr, Modulus: uint32(nslots), Type: unix.NFT_NG_INCREMENTAL}}
	}
	// The anonymous map's keys are big-endian (the form nft gives anonymous
	// sets); numgen and jhash write host order.
	pick = append(pick, &expr.Byteorder{SourceRegister: regAddr, DestRegister: regAddr,
		Op: expr.ByteorderHton, Len: 4, Size: 4})
	return append(rules, append(pick, verdictLookup(slots, regAddr)))
}

// refreshExprs keep a persistent client's entry alive while any of its
// connections to the virtual service carries traffic, as IPVS keeps a
// persistence template while connections it controls exist: every
// client-to-server packet of a connection whose original destination is the
// VIP restarts the timeout of the client's entry in p, if it has one.
func refreshExprs(spec ServiceSpec, p *nftables.Set) []expr.Any {
	vip := spec.VIP.Addr().As4()
	return append([]expr.Any{
		&expr.Ct{Register: regAddr, Key: expr.CtKeyDIRECTION},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{0}}, // IP_CT_DIR_ORIGINAL
		&expr.Ct{Register: regAddr, Key: expr.CtKeyDST, Direction: 0},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: vip[:]},
		&expr.Ct{Register: regAddr, Key: expr.CtKeyPROTOCOL},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Ct{Register: regAddr, Key: expr.CtKeyPROTODST, Direction: 0},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: binaryutil.BigEndian.PutUint16(spec.VIP.Port())},
		loadClient(),
		&expr.Lookup{SourceRegister: regAddr, SetName: p.Name, SetID: p.ID},
	}, updateClient(p)...)
}
