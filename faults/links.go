package faults

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"halab/lab"
)

// SetLink brings a node's interface up or down.
func (e *Engine) SetLink(node, iface string, up bool) error {
	n, err := e.lab.Node(node)
	if err != nil {
		return err
	}
	return setLink(n, iface, up)
}

func setLink(n *lab.Node, iface string, up bool) error {
	if iface == "" {
		return fmt.Errorf("%s: link: no interface named", n.Name())
	}
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("%s: interface %s: %w", n.Name(), iface, err)
	}
	if up {
		err = h.LinkSetUp(link)
	} else {
		err = h.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("%s: set %s up=%v: %w", n.Name(), iface, up, err)
	}
	return nil
}

// setAllLinks brings every interface of a node (loopback excepted) up or
// down.
func setAllLinks(n *lab.Node, up bool) error {
	var errs []error
	for _, i := range n.Spec().Interfaces {
		errs = append(errs, setLink(n, i.Name, up))
	}
	return errors.Join(errs...)
}

// Configured returns the topology's addresses of a node interface.
func Configured(spec lab.NodeSpec, iface string) []netip.Prefix {
	var out []netip.Prefix
	for _, ifc := range spec.Interfaces {
		if ifc.Name == iface {
			for _, a := range ifc.Addresses {
				out = append(out, a.Prefix)
			}
		}
	}
	return out
}

// IsVIP reports whether addr (CIDR) is none of the configured addresses:
// a daemon added it. IPv6 link-local addresses never are VIPs.
func IsVIP(addr string, conf []netip.Prefix) bool {
	p, err := netip.ParsePrefix(addr)
	if err != nil {
		return false
	}
	if p.Addr().IsLinkLocalUnicast() {
		return false
	}
	for _, c := range conf {
		if c.Addr() == p.Addr() {
			return false
		}
	}
	return true
}

// flushVIPs removes the addresses the topology does not give the node: a
// machine that dies loses the addresses its daemons added.
func flushVIPs(n *lab.Node) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	var errs []error
	for _, ifc := range n.Spec().Interfaces {
		link, err := h.LinkByName(ifc.Name)
		if err != nil {
			continue
		}
		addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conf := Configured(n.Spec(), ifc.Name)
		for _, a := range addrs {
			if a.IPNet == nil || !IsVIP(a.IPNet.String(), conf) {
				continue
			}
			if err := h.AddrDel(link, &a); err != nil {
				errs = append(errs, fmt.Errorf("%s:%s del %s: %w", n.Name(), ifc.Name, a.IPNet, err))
			}
		}
	}
	return errors.Join(errs...)
}
