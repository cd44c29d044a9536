package vrrpd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol constants shared by VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798).
const (
	IPProtoVRRP    = 112
	VRRPTTL        = 255
	typeAdvert     = 1
	headerLen      = 8
	authDataLen    = 8 // VRRPv2 carries 8 bytes of authentication data
	AuthNone       = 0
	AuthSimpleText = 1
	maxV3Interval  = 4095 // centiseconds, 12 bits
)

// Advert is one VRRP advertisement.
type Advert struct {
	Version  int
	VRID     uint8
	Priority uint8
	// Interval is the advertisement interval: whole seconds in VRRPv2,
	// centiseconds in VRRPv3 (Max Adver Int).
	Interval time.Duration
	AuthType uint8   // VRRPv2 only
	AuthData [8]byte // VRRPv2 only
	Addrs    []netip.Addr
	Checksum uint16 // as received (filled by Decode)
}

// Marshal encodes the advert. src and dst are the IP header addresses, used
// by the VRRPv3 pseudo-header checksum; VRRPv2 ignores them.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	if len(a.Addrs) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses do not fit the count field", len(a.Addrs))
	}
	n := headerLen + 4*len(a.Addrs)
	if a.Version == 2 {
		n += authDataLen
	}
	b := make([]byte, n)
	b[0] = byte(a.Version)<<4 | typeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	switch a.Version {
	case 2:
		secs := a.Interval / time.Second
		if secs < 1 || secs > 255 || a.Interval%time.Second != 0 {
			return nil, fmt.Errorf("vrrp: v2 interval %v is not 1..255 whole seconds", a.Interval)
		}
		b[4] = a.AuthType
		b[5] = byte(secs)
	case 3:
		cs := a.Interval / (10 * time.Millisecond)
		if cs < 1 || cs > maxV3Interval {
			return nil, fmt.Errorf("vrrp: v3 interval %v is not 10ms..40.95s", a.Interval)
		}
		binary.BigEndian.PutUint16(b[4:], uint16(cs))
	default:
		return nil, fmt.Errorf("vrrp: unsupported version %d", a.Version)
	}
	off := headerLen
	for _, ip := range a.Addrs {
		if !ip.Is4() {
			return nil, fmt.Errorf("vrrp: address %v is not IPv4", ip)
		}
		v4 := ip.As4()
		copy(b[off:], v4[:])
		off += 4
	}
	if a.Version == 2 {
		copy(b[off:], a.AuthData[:])
	}
	var sum uint16
	if a.Version == 3 {
		if !src.Is4() || !dst.Is4() {
			return nil, errors.New("vrrp: v3 checksum needs IPv4 source and destination")
		}
		sum = checksum(b, pseudoHeader(src, dst, len(b)))
	} else {
		sum = checksum(b, 0)
	}
	binary.BigEndian.PutUint16(b[6:], sum)
	return b, nil
}

// pseudoHeader returns the one's-complement sum of the IPv4 pseudo-header.
func pseudoHeader(src, dst netip.Addr, length int) uint32 {
	s, d := src.As4(), dst.As4()
	var sum uint32
	sum += uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += IPProtoVRRP
	sum += uint32(length)
	return sum
}

// checksum is the Internet checksum of b, starting from a partial sum.
// Computing it over a message that holds a valid checksum yields 0.
func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Drop is why a received advert was discarded. DropNone means accepted.
type Drop int

// Drop reasons, counted per instance.
const (
	DropNone Drop = iota
	DropTTL
	DropVersion
	DropType
	DropLength
	DropChecksum
	DropVRID
	DropAuth
	DropInterval
	DropAddrs
	DropSource
)

var dropNames = [...]string{"none", "ttl", "version", "type", "length", "checksum", "vrid", "auth", "interval", "addresses", "source"}

func (d Drop) String() string {
	if d >= 0 && int(d) < len(dropNames) {
		return dropNames[d]
	}
	return fmt.Sprintf("drop(%d)", int(d))
}

// AllDrops lists every drop reason, for counters.
func AllDrops() []Drop {
	out := make([]Drop, 0, len(dropNames)-1)
	for d := DropTTL; int(d) < len(dropNames); d++ {
		out = append(out, d)
	}
	return out
}

// RxInfo is what the IP layer says about a received advert.
type RxInfo struct {
	Src, Dst netip.Addr
	TTL      int
}

// Expect is what an instance accepts.
type Expect struct {
	Version  int
	VRID     uint8
	AuthType uint8   // VRRPv2
	AuthData [8]byte // VRRPv2 simple text password, zero padded
	// CheckTTL requires TTL 255 (multicast); MinTTL/MaxTTL (>=0) bound
	// the TTL in unicast mode.
	CheckTTL       bool
	MinTTL, MaxTTL int
	// Interval, when set, must match a VRRPv2 advert's interval (RFC 3768
	// 7.1); VRRPv3 adverts carry the master's interval instead.
	Interval time.Duration
	// Addrs, when not nil, must equal the advertised address set.
	Addrs []netip.Addr
}

// Decode parses and validates one VRRP message (the IP payload). On any
// problem it returns the reason the advert must be dropped.
func Decode(b []byte, rx RxInfo, want Expect) (*Advert, Drop) {
	if want.CheckTTL && rx.TTL != VRRPTTL {
		return nil, DropTTL
	}
	if want.MinTTL >= 0 && rx.TTL < want.MinTTL && !want.CheckTTL {
		return nil, DropTTL
	}
	if want.MaxTTL > 0 && rx.TTL > want.MaxTTL && !want.CheckTTL {
		return nil, DropTTL
	}
	if len(b) < headerLen {
		return nil, DropLength
	}
	a := &Advert{Version: int(b[0] >> 4), VRID: b[1], Priority: b[2]}
	if a.Version != 2 && a.Version != 3 {
		return nil, DropVersion
	}
	if a.Version != want.Version {
		return nil, DropVersion
	}
	if b[0]&0x0f != typeAdvert {
		return nil, DropType
	}
	count := int(b[3])
	need := headerLen + 4*count
	if a.Version == 2 {
		need += authDataLen
	}
	if len(b) < need {
		return nil, DropLength
	}
	b = b[:need] // trailing bytes are not part of the message
	a.Checksum = binary.BigEndian.Uint16(b[6:])
	if a.Version == 2 {
		if checksum(b, 0) != 0 {
			return nil, DropChecksum
		}
	} else {
		if !rx.Src.Is4() || !rx.Dst.Is4() || checksum(b, pseudoHeader(rx.Src, rx.Dst, len(b))) != 0 {
			return nil, DropChecksum
		}
	}
	if a.VRID != want.VRID {
		return nil, DropVRID
	}
	if a.Version == 2 {
		a.AuthType = b[4]
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.AuthData[:], b[need-authDataLen:])
		if a.AuthType != want.AuthType {
			return nil, DropAuth
		}
		if a.AuthType == AuthSimpleText && a.AuthData != want.AuthData {
			return nil, DropAuth
		}
		if want.Interval != 0 && a.Interval != want.Interval {
			return nil, DropInterval
		}
	} else {
		cs := binary.BigEndian.Uint16(b[4:]) & 0x0fff
		if cs == 0 {
			return nil, DropInterval
		}
		a.Interval = time.Duration(cs) * 10 * time.Millisecond
	}
	a.Addrs = make([]netip.Addr, count)
	for i := range count {
		a.Addrs[i] = netip.AddrFrom4([4]byte(b[headerLen+4*i : headerLen+4*i+4]))
	}
	if want.Addrs != nil && !sameAddrSet(a.Addrs, want.Addrs) {
		return nil, DropAddrs
	}
	return a, DropNone
}

func sameAddrSet(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[netip.Addr]bool, len(b))
	for _, x := range b {
		set[x] = true
	}
	for _, x := range a {
		if !set[x] {
			return false
		}
	}
	return true
}

// AuthBytes pads a simple text password to the 8-byte field.
func AuthBytes(pass string) [8]byte {
	var out [8]byte
	copy(out[:], pass)
	return out
}
