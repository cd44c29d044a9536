package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"halab/lab"
)

// What the runner reads of its nodes: addresses and listening sockets.

// nodeAddrs lists a node's addresses as the kernel has them (VIPs included).
func nodeAddrs(n *lab.Node) ([]netip.Addr, error) {
	h, err := n.Handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	list, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

// waitListening waits until every named node has a TCP socket listening
// (its app or proxy is ready), for at most d. It is best effort: a node
// that never listens is left to the scenario's expectations.
func waitListening(ctx context.Context, l *lab.Lab, nodes []string, d time.Duration) {
	deadline := time.Now().Add(d)
	for _, name := range nodes {
		pid := l.MustNode(name).InitPID()
		for time.Now().Before(deadline) && ctx.Err() == nil {
			b4, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
			b6, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp6", pid))
			if hasListener(string(b4)) || hasListener(string(b6)) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// hasListener reports whether a /proc/net/tcp table has a LISTEN socket.
func hasListener(table string) bool {
	lines := strings.Split(table, "\n")
	if len(lines) < 2 {
		return false
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == "0A" {
			return true
		}
	}
	return false
}
