package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsHandles holds a netlink handle and a namespace fd per node.
type nsHandles struct {
	h  map[string]*netlink.Handle
	ns map[string]netns.NsHandle
}

func (l *Lab) openHandles() (*nsHandles, error) {
	hs := &nsHandles{h: map[string]*netlink.Handle{}, ns: map[string]netns.NsHandle{}}
	for name, n := range l.nodes {
		ns, err := netns.GetFromPid(n.initPID)
		if err != nil {
			hs.close()
			return nil, fmt.Errorf("open netns of %s: %w", name, err)
		}
		hs.ns[name] = ns
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			hs.close()
			return nil, fmt.Errorf("netlink in %s: %w", name, err)
		}
		hs.h[name] = h
	}
	return hs, nil
}

func (hs *nsHandles) close() {
	for _, h := range hs.h {
		h.Close()
	}
	for _, ns := range hs.ns {
		ns.Close()
	}
}

// buildNetwork creates the bridges, veths, addresses and routes.
func (l *Lab) buildNetwork(ctx context.Context) error {
	hs, err := l.openHandles()
	if err != nil {
		return err
	}
	defer hs.close()
	sw := hs.h[switchNode]
	bridges := map[string]*netlink.Bridge{}
	off := false
	for _, lan := range l.topo.LANs {
		br := &netlink.Bridge{
			LinkAttrs:         netlink.LinkAttrs{Name: bridgeName(lan.Name), HardwareAddr: MAC(l.name, switchNode, lan.Name)},
			MulticastSnooping: &off,
		}
		if err := sw.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge for LAN %s: %w", lan.Name, err)
		}
		if err := sw.LinkSetUp(br); err != nil {
			return fmt.Errorf("bridge %s up: %w", lan.Name, err)
		}
		bridges[lan.Name] = br
	}
	// Point-to-point links: the first end creates the pair.
	linkEnds := map[string][2]string{} // link -> node, iface of the first end
	for _, n := range l.topo.Nodes {
		for _, ifc := range n.Interfaces {
			switch {
			case ifc.LAN != "":
				veth := &netlink.Veth{
					LinkAttrs:        netlink.LinkAttrs{Name: portName(n.Name, ifc.Name), MasterIndex: bridges[ifc.LAN].Index, HardwareAddr: MAC(l.name, switchNode, n.Name+"/"+ifc.Name), MTU: ifc.MTU},
					PeerName:         ifc.Name,
					PeerHardwareAddr: MAC(l.name, n.Name, ifc.Name),
					PeerNamespace:    netlink.NsFd(hs.ns[n.Name]),
				}
				if err := sw.LinkAdd(veth); err != nil {
					return fmt.Errorf("connect %s:%s to LAN %s: %w", n.Name, ifc.Name, ifc.LAN, err)
				}
				if err := sw.LinkSetUp(veth); err != nil {
					return err
				}
			case ifc.Link != "":
				first, ok := linkEnds[ifc.Link]
				if !ok {
					linkEnds[ifc.Link] = [2]string{n.Name, ifc.Name}
					continue
				}
				veth := &netlink.Veth{
					LinkAttrs:        netlink.LinkAttrs{Name: first[1], HardwareAddr: MAC(l.name, first[0], first[1]), MTU: ifc.MTU},
					PeerName:         ifc.Name,
					PeerHardwareAddr: MAC(l.name, n.Name, ifc.Name),
					PeerNamespace:    netlink.NsFd(hs.ns[n.Name]),
				}
				if err := hs.h[first[0]].LinkAdd(veth); err != nil {
					return fmt.Errorf("create link %s between %s:%s and %s:%s: %w", ifc.Link, first[0], first[1], n.Name, ifc.Name, err)
				}
			}
		}
	}
	// Per node: addresses, links up, routes; nodes in parallel.
	var wg sync.WaitGroup
	errc := make(chan error, len(l.topo.Nodes))
	for _, n := range l.topo.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := configureNode(hs.h[n.Name], n); err != nil {
				errc <- fmt.Errorf("node %s: %w", n.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func configureNode(h *netlink.Handle, n NodeSpec) error {
	for _, ifc := range n.Interfaces {
		link, err := h.LinkByName(ifc.Name)
		if err != nil {
			return fmt.Errorf("find %s: %w", ifc.Name, err)
		}
		if ifc.MTU != 0 {
			if err := h.LinkSetMTU(link, ifc.MTU); err != nil {
				return fmt.Errorf("mtu of %s: %w", ifc.Name, err)
			}
		}
		for _, a := range ifc.Addresses {
			addr := &netlink.Addr{IPNet: prefixToIPNet(a.Prefix)}
			if a.Prefix.Addr().Is6() {
				addr.Flags = unix.IFA_F_NODAD
			}
			if err := h.AddrAdd(link, addr); err != nil {
				return fmt.Errorf("address %s on %s: %w", a.Prefix, ifc.Name, err)
			}
		}
		if err := h.LinkSetUp(link); err != nil {
			return fmt.Errorf("%s up: %w", ifc.Name, err)
		}
	}
	for _, r := range n.Routes {
		route := &netlink.Route{}
		if r.Dev != "" {
			link, err := h.LinkByName(r.Dev)
			if err != nil {
				return fmt.Errorf("route dev %s: %w", r.Dev, err)
			}
			route.LinkIndex = link.Attrs().Index
		}
		var gw netip.Addr
		if r.Via != "" {
			gw = netip.MustParseAddr(r.Via)
			route.Gw = net.IP(gw.AsSlice())
		}
		if r.To == "default" {
			if gw.Is6() {
				route.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
			} else {
				route.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
			}
		} else {
			route.Dst = prefixToIPNet(netip.MustParsePrefix(r.To).Masked())
		}
		if err := h.RouteAdd(route); err != nil {
			return fmt.Errorf("route to %s via %s: %w", r.To, r.Via, err)
		}
	}
	return nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// Do runs fn on a locked OS thread inside the node's network namespace.
// Sockets fn opens stay in that namespace; goroutines it starts do not run
// there.
func (n *Node) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromPath(n.NetNSPath())
	if err != nil {
		return fmt.Errorf("open netns of %s: %w", n.name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return fmt.Errorf("enter netns of %s: %w", n.name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("lab: cannot return to the original network namespace: %v", err))
		}
	}()
	return fn()
}

// Handle returns a netlink handle working in the node's network namespace;
// the caller closes it.
func (n *Node) Handle() (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(n.NetNSPath())
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}
