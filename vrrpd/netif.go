package vrrpd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// PrimaryAddr returns the interface's primary IPv4 address (the first one
// that is not a secondary), skipping the given virtual addresses.
func PrimaryAddr(ifname string, skip []VIP) (netip.Addr, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %s: %w", ifname, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", ifname, err)
	}
	isVIP := func(a netip.Addr) bool {
		for _, v := range skip {
			if v.Prefix.Addr() == a {
				return true
			}
		}
		return false
	}
	for _, sec := range []bool{false, true} {
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP.To4())
			if !ok || isVIP(ip) || (a.Flags&unix.IFA_F_SECONDARY != 0) != sec {
				continue
			}
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address", ifname)
}

// LinkUp reports whether the interface is administratively up and running.
func LinkUp(ifname string) bool {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return false
	}
	a := link.Attrs()
	return a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0
}

func vipToNetlink(v VIP) (netlink.Link, *netlink.Addr, error) {
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %s: %w", v.Dev, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: v.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(v.Prefix.Bits(), 32)}, Label: v.Label}
	if v.Brd.IsValid() {
		a.Broadcast = v.Brd.AsSlice()
	}
	switch v.Scope {
	case "host":
		a.Scope = unix.RT_SCOPE_HOST
	case "link":
		a.Scope = unix.RT_SCOPE_LINK
	case "site":
		a.Scope = unix.RT_SCOPE_SITE
	case "nowhere":
		a.Scope = unix.RT_SCOPE_NOWHERE
	}
	return link, a, nil
}

// AddVIP adds a virtual address; an address already present is not an error.
func AddVIP(v VIP) error {
	link, a, err := vipToNetlink(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(link, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %v dev %s: %w", v.Prefix, v.Dev, err)
	}
	return nil
}

// DelVIP removes a virtual address; an absent address is not an error.
func DelVIP(v VIP) error {
	link, a, err := vipToNetlink(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete %v dev %s: %w", v.Prefix, v.Dev, err)
	}
	return nil
}

// SendGARP broadcasts one gratuitous ARP request for ip on ifname.
func SendGARP(ifname string, ip netip.Addr) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("garp: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("garp: %s has no Ethernet address", ifname)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("garp socket: %w", err)
	}
	defer unix.Close(fd)
	frame := garpFrame(ifi.HardwareAddr, ip)
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifi.Index, Halen: 6}
	copy(sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if err := unix.Sendto(fd, frame, 0, sa); err != nil {
		return fmt.Errorf("garp send on %s: %w", ifname, err)
	}
	return nil
}

// garpFrame builds an Ethernet broadcast ARP request announcing ip at mac.
func garpFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 42)
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], mac)
	b[12], b[13] = 0x08, 0x06 // ARP
	b[14], b[15] = 0, 1       // Ethernet
	b[16], b[17] = 0x08, 0x00 // IPv4
	b[18], b[19] = 6, 4
	b[20], b[21] = 0, 1 // request
	v4 := ip.As4()
	copy(b[22:28], mac)
	copy(b[28:32], v4[:])
	copy(b[32:38], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[38:42], v4[:])
	return b
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
