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

// Registers used by lbd's rules. A lookup into a map whose data is
// "ipv4_addr . inet_service" fills regAddr (32-bit register 8) with the address
// and the following 32-bit register (regPort) with the port, which is where the
// dnat expression reads them, as nft itself does for "dnat to numgen ... map".
const (
	regAddr = unix.NFT_REG_1    // 128-bit register 1 = 32-bit registers 8..11
	regPort = unix.NFT_REG32_01 // 32-bit register 9
	regKey  = unix.NFT_REG_2    // client address, the key of persistence and sh
)

// nftDynsetOpDelete is NFT_DYNSET_OP_DELETE (Linux 5.18), missing from x/sys.
const nftDynsetOpDelete = 2

// icmpPortUnreach is ICMP destination unreachable code 3.
const icmpPortUnreach = 3

// jhashSeed is fixed so that every director (and every restart) maps a client
// address to the same sh slot, like IPVS's unseeded source hashing.
const jhashSeed = 0x1ab4d

// Set types of lbd's maps.
var (
	typeAddrPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
)

// encodeAddrPort is an "ipv4_addr . inet_service" value: address, port in
// network order, padded to the 4-byte register size.
func encodeAddrPort(a netip.AddrPort) []byte {
	b := make([]byte, 8)
	ip := a.Addr().As4()
	copy(b, ip[:])
	binary.BigEndian.PutUint16(b[4:], a.Port())
	return b
}

// encodeSlot is a slot number as numgen and hash write it: a host-order u32.
func encodeSlot(i int) []byte { return binaryutil.NativeEndian.PutUint32(uint32(i)) }

// vsNames are the names of one virtual service's chain and sets in lbd's table.
type vsNames struct {
	chain, slots, alive, persist string
}

func namesFor(i int) vsNames {
	p := fmt.Sprintf("vs%d", i)
	return vsNames{chain: p, slots: p + "_slots", alive: p + "_alive", persist: p + "_persist"}
}

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
		&expr.Lookup{SourceRegister: regAddr, IsDestRegSet: true, DestRegister: 0,
			SetName: services.Name, SetID: services.ID},
	}
}

// dnatExpr rewrites the destination to the address and port in regAddr/regPort.
func dnatExpr() expr.Any {
	return &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
		RegAddrMin: regAddr, RegProtoMin: regPort, Specified: true}
}

func loadClient() expr.Any {
	return &expr.Payload{DestRegister: regKey, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// vsSets are the sets a virtual service's rules refer to; alive and persist
// are nil without persistence.
type vsSets struct {
	slots, alive, persist *nftables.Set
}

func lookup(s *nftables.Set, sreg uint32) *expr.Lookup {
	return &expr.Lookup{SourceRegister: sreg, SetName: s.Name, SetID: s.ID}
}

func lookupInto(s *nftables.Set, sreg, dreg uint32) *expr.Lookup {
	return &expr.Lookup{SourceRegister: sreg, DestRegister: dreg, IsDestRegSet: true, SetName: s.Name, SetID: s.ID}
}

// vsRules are the rules of one virtual service's chain for nslots scheduling
// slots (the contents of sets.slots). With no slots the chain sends new
// connections to the sorry server, or refuses them with an ICMP port
// unreachable as IPVS does when a service has no destination.
func vsRules(spec ServiceSpec, nslots int, sets vsSets) [][]expr.Any {
	if nslots == 0 {
		if spec.Sorry.IsValid() {
			ip := spec.Sorry.Addr().As4()
			return [][]expr.Any{{
				&expr.Immediate{Register: regAddr, Data: ip[:]},
				&expr.Immediate{Register: regPort, Data: binaryutil.BigEndian.PutUint16(spec.Sorry.Port())},
				dnatExpr(),
			}}
		}
		return [][]expr.Any{{
			&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreach},
		}}
	}

	var pick []expr.Any
	switch spec.Algo {
	case AlgoSH:
		pick = []expr.Any{
			loadClient(),
			&expr.Hash{SourceRegister: regKey, DestRegister: regAddr, Length: 4,
				Modulus: uint32(nslots), Seed: jhashSeed, Type: expr.HashTypeJenkins},
		}
	default:
		pick = []expr.Any{
			&expr.Numgen{Register: regAddr, Modulus: uint32(nslots), Type: unix.NFT_NG_INCREMENTAL},
		}
	}
	pick = append(pick, lookupInto(sets.slots, regAddr, regAddr))

	if sets.persist == nil {
		return [][]expr.Any{append(pick, dnatExpr())}
	}

	p := sets.persist
	forget := &expr.Lookup{SourceRegister: regAddr, SetName: sets.alive.Name, SetID: sets.alive.ID, Invert: true}
	return [][]expr.Any{
		// A remembered real server that is no longer alive is forgotten.
		{loadClient(), lookupInto(p, regKey, regAddr), forget,
			&expr.Dynset{Operation: nftDynsetOpDelete, SrcRegKey: regKey, SrcRegData: regAddr, SetName: p.Name, SetID: p.ID}},
		// A client seen within the persistence timeout goes back to its real
		// server, and its timeout starts again.
		{loadClient(), lookupInto(p, regKey, regAddr), lookup(sets.alive, regAddr),
			&expr.Dynset{Operation: unix.NFT_DYNSET_OP_UPDATE, SrcRegKey: regKey, SrcRegData: regAddr, SetName: p.Name, SetID: p.ID},
			dnatExpr()},
		// Otherwise schedule, and remember the choice.
		append(append(pick, loadClient()),
			&expr.Dynset{Operation: unix.NFT_DYNSET_OP_ADD, SrcRegKey: regKey, SrcRegData: regAddr, SetName: p.Name, SetID: p.ID},
			dnatExpr()),
	}
}
