package vrrpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// ipTOSInternetControl is the TOS keepalived puts on adverts.
const ipTOSInternetControl = 0xc0

// Conn is a raw IPv4 socket for protocol 112 bound to one interface.
type Conn struct {
	raw    *ipv4.RawConn
	ifi    *net.Interface
	group  netip.Addr // joined multicast group, invalid in unicast mode
	closed chan struct{}
}

// Packet is one received VRRP message with its IP header facts.
type Packet struct {
	Rx      RxInfo
	Payload []byte
}

// OpenConn opens the socket on ifname; in multicast mode it joins group on
// that interface and turns multicast loopback off.
func OpenConn(ctx context.Context, ifname string, group netip.Addr, unicast bool) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("vrrp socket: %w", err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, fmt.Sprintf("ip4:%d", IPProtoVRRP), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("vrrp socket on %s: %w", ifname, err)
	}
	raw, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("vrrp raw conn on %s: %w", ifname, err)
	}
	c := &Conn{raw: raw, ifi: ifi, closed: make(chan struct{})}
	if !unicast {
		if err := raw.SetMulticastInterface(ifi); err != nil {
			raw.Close()
			return nil, fmt.Errorf("vrrp multicast interface %s: %w", ifname, err)
		}
		if err := raw.SetMulticastLoopback(false); err != nil {
			raw.Close()
			return nil, fmt.Errorf("vrrp multicast loopback: %w", err)
		}
		if err := raw.JoinGroup(ifi, &net.IPAddr{IP: group.AsSlice()}); err != nil {
			raw.Close()
			return nil, fmt.Errorf("join %v on %s: %w", group, ifname, err)
		}
		c.group = group
	}
	return c, nil
}

// Interface returns the bound interface.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// Send writes one VRRP message with TTL ttl from src to dst.
func (c *Conn) Send(src, dst netip.Addr, ttl int, payload []byte) error {
	h := &ipv4.Header{
		Version:  ipv4.Version,
		Len:      ipv4.HeaderLen,
		TOS:      ipTOSInternetControl,
		TotalLen: ipv4.HeaderLen + len(payload),
		TTL:      ttl,
		Protocol: IPProtoVRRP,
		Src:      src.AsSlice(),
		Dst:      dst.AsSlice(),
	}
	var cm *ipv4.ControlMessage
	if dst.IsMulticast() {
		cm = &ipv4.ControlMessage{IfIndex: c.ifi.Index}
	}
	if err := c.raw.WriteTo(h, payload, cm); err != nil {
		return fmt.Errorf("send advert to %v: %w", dst, err)
	}
	return nil
}

// Read blocks for the next packet. It returns net.ErrClosed after Close.
func (c *Conn) Read(buf []byte) (Packet, error) {
	for {
		h, p, _, err := c.raw.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return Packet{}, net.ErrClosed
			}
			select {
			case <-c.closed:
				return Packet{}, net.ErrClosed
			default:
			}
			return Packet{}, fmt.Errorf("read advert: %w", err)
		}
		if h == nil || h.Protocol != IPProtoVRRP {
			continue
		}
		src, _ := netip.AddrFromSlice(h.Src.To4())
		dst, _ := netip.AddrFromSlice(h.Dst.To4())
		out := make([]byte, len(p))
		copy(out, p)
		return Packet{Rx: RxInfo{Src: src, Dst: dst, TTL: h.TTL}, Payload: out}, nil
	}
}

// Close releases the socket and unblocks Read.
func (c *Conn) Close() error {
	select {
	case <-c.closed:
		return nil
	default:
		close(c.closed)
	}
	if c.group.IsValid() {
		_ = c.raw.LeaveGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()})
	}
	return c.raw.Close()
}
