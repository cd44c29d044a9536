package ui

import (
	"context"
	"log/slog"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"halab/lab"
)

// watchNetlink kicks the poller as soon as an address or a link changes in
// any node, so a VIP move reaches the page without waiting for the next
// poll. Polling stays the source of truth (and covers daemons and VRRP
// states, which netlink does not see).
func watchNetlink(ctx context.Context, l labView, kick func(), log *slog.Logger) {
	for _, spec := range l.Topology().Nodes {
		ns, err := netns.GetFromPath(lab.NetnsPath(l.Name(), spec.Name))
		if err != nil {
			log.Debug("ui: no netlink watch", "node", spec.Name, "err", err)
			continue
		}
		done := make(chan struct{})
		addrs := make(chan netlink.AddrUpdate, 64)
		links := make(chan netlink.LinkUpdate, 64)
		onErr := func(err error) { log.Debug("ui: netlink watch", "node", spec.Name, "err", err) }
		errA := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: &ns, ErrorCallback: onErr})
		errL := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: &ns, ErrorCallback: onErr})
		ns.Close()
		if errA != nil || errL != nil {
			close(done)
			log.Debug("ui: no netlink watch", "node", spec.Name, "addr", errA, "link", errL)
			continue
		}
		go func() {
			defer close(done)
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-addrs:
					if !ok {
						return
					}
					kick()
				case _, ok := <-links:
					if !ok {
						return
					}
					kick()
				}
			}
		}()
	}
}
