package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// IPProtoVRRP is the IP protocol number of VRRP.
const IPProtoVRRP = 112

// VRRP authentication types (VRRPv2 only).
const (
	VRRPAuthNone   = 0
	VRRPAuthSimple = 1
	VRRPAuthAH     = 2
)

// VRRP is a decoded VRRPv2 (RFC 3768) or VRRPv3 (RFC 5798) message.
// gopacket only knows VRRPv2 and skips the authentication data, so both
// versions are decoded here.
type VRRP struct {
	Version  uint8 // 2 or 3
	Type     uint8 // 1 = advertisement
	VRID     uint8
	Priority uint8
	// AuthType is the VRRPv2 authentication type; zero for VRRPv3.
	AuthType uint8
	// Interval is the advertisement interval: whole seconds for VRRPv2,
	// centiseconds for VRRPv3.
	Interval time.Duration
	Checksum uint16
	// ChecksumOK reports whether Checksum matches the message (for VRRPv3
	// with the IP pseudo-header). It is true when it could not be checked
	// because the message was truncated by the capture.
	ChecksumOK bool
	Addrs      []netip.Addr
	// Auth is the 8-byte VRRPv2 authentication data (the password for
	// simple text authentication); nil for VRRPv3.
	Auth []byte
	Len  int // VRRP message length (IP payload length)
}

// Advertisement reports whether the message is an advertisement (type 1),
// the only VRRP message type.
func (v *VRRP) Advertisement() bool { return v.Type == 1 }

// AuthString returns the simple-text password up to its first NUL byte.
func (v *VRRP) AuthString() string {
	for i, c := range v.Auth {
		if c == 0 {
			return string(v.Auth[:i])
		}
	}
	return string(v.Auth)
}

var errVRRPShort = errors.New("vrrp: truncated header")

// DecodeVRRP decodes a VRRP message from an IP payload. src and dst are the
// IP addresses of the enclosing packet; they select IPv4 or IPv6 addresses
// and are needed to verify a VRRPv3 checksum. wireLen is the payload length
// according to the IP header (b may be shorter when the capture truncated
// it). The addresses are decoded as far as b holds them.
func DecodeVRRP(b []byte, src, dst netip.Addr, wireLen int) (*VRRP, error) {
	if len(b) < 8 {
		return nil, errVRRPShort
	}
	v := &VRRP{
		Version:  b[0] >> 4,
		Type:     b[0] & 0x0f,
		VRID:     b[1],
		Priority: b[2],
		Checksum: binary.BigEndian.Uint16(b[6:8]),
		Len:      wireLen,
	}
	n := int(b[3])
	switch v.Version {
	case 2:
		v.AuthType = b[4]
		v.Interval = time.Duration(b[5]) * time.Second
	case 3:
		v.Interval = time.Duration(int(b[4]&0x0f)<<8|int(b[5])) * 10 * time.Millisecond
	default:
		return v, fmt.Errorf("vrrp: unknown version %d", v.Version)
	}
	alen := 4
	if src.Is6() && !src.Is4In6() {
		alen = 16
	}
	body := b[8:]
	for i := 0; i < n; i++ {
		if len(body) < alen {
			return v, errVRRPShort
		}
		a, _ := netip.AddrFromSlice(body[:alen])
		v.Addrs = append(v.Addrs, a)
		body = body[alen:]
	}
	if v.Version == 2 {
		if len(body) < 8 {
			return v, errVRRPShort
		}
		v.Auth = append([]byte(nil), body[:8]...)
	}
	v.ChecksumOK = true
	if wireLen <= len(b) {
		msg := b[:wireLen]
		var sum uint32
		if v.Version == 3 {
			sum = pseudoHeaderSum(src, dst, IPProtoVRRP, len(msg))
		}
		v.ChecksumOK = foldChecksum(sum+onesSum(msg)) == 0xffff
	}
	return v, nil
}

// MarshalVRRP builds a VRRP advertisement with a correct checksum, for tests
// and tools that craft adverts. For VRRPv2, interval is rounded down to whole
// seconds and auth is padded or cut to 8 bytes; for VRRPv3, interval is
// rounded down to centiseconds and src and dst (the IP addresses the message
// will travel with) enter the checksum.
func MarshalVRRP(v *VRRP, src, dst netip.Addr) ([]byte, error) {
	if len(v.Addrs) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses, at most 255", len(v.Addrs))
	}
	typ := v.Type
	if typ == 0 {
		typ = 1
	}
	b := []byte{v.Version<<4 | typ&0x0f, v.VRID, v.Priority, byte(len(v.Addrs)), 0, 0, 0, 0}
	switch v.Version {
	case 2:
		b[4] = v.AuthType
		b[5] = byte(v.Interval / time.Second)
	case 3:
		cs := v.Interval / (10 * time.Millisecond)
		if cs > 0x0fff {
			return nil, fmt.Errorf("vrrp: interval %v too long for VRRPv3", v.Interval)
		}
		b[4], b[5] = byte(cs>>8), byte(cs)
	default:
		return nil, fmt.Errorf("vrrp: unknown version %d", v.Version)
	}
	for _, a := range v.Addrs {
		b = append(b, a.AsSlice()...)
	}
	if v.Version == 2 {
		var auth [8]byte
		copy(auth[:], v.Auth)
		b = append(b, auth[:]...)
	}
	var sum uint32
	if v.Version == 3 {
		sum = pseudoHeaderSum(src, dst, IPProtoVRRP, len(b))
	}
	binary.BigEndian.PutUint16(b[6:8], ^foldChecksum(sum+onesSum(b)))
	return b, nil
}

// onesSum adds b as big-endian 16-bit words (odd length padded with zero).
func onesSum(b []byte) uint32 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func foldChecksum(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// pseudoHeaderSum is the ones' complement sum of the IPv4 or IPv6
// pseudo-header for an upper-layer message of length n.
func pseudoHeaderSum(src, dst netip.Addr, proto uint8, n int) uint32 {
	s := onesSum(src.Unmap().AsSlice()) + onesSum(dst.Unmap().AsSlice())
	if src.Unmap().Is4() {
		return s + uint32(proto) + uint32(n)
	}
	return s + uint32(n>>16) + uint32(n&0xffff) + uint32(proto)
}
