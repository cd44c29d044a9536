package lab

import (
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
)

// Paths and names shared by everything that finds a lab's pieces again:
// `lab up`, `lab down` after a crash, and the node init processes.
const (
	// StateRoot holds one directory per lab.
	StateRoot = "/run/halab"
	// NetnsDir is where `ip netns` looks for named network namespaces.
	NetnsDir = "/run/netns"
	// initArg0 is argv[0] of every node init process; with the lab name as
	// argv[1] it lets `lab down` find a crashed lab's processes.
	initArg0 = "halab-init"
	// switchNode is the internal node name of the namespace holding the
	// LAN bridges. Node names cannot contain a dot, so it never collides.
	switchNode = ".lans"
)

// StateDir is /run/halab/<lab>.
func StateDir(lab string) string { return filepath.Join(StateRoot, lab) }

// SharedDirPath is /run/halab/<lab>/files, visible at the same path in every node.
func SharedDirPath(lab string) string { return filepath.Join(StateDir(lab), "files") }

// LogDir is the directory of a node's process logs on the host.
func LogDir(lab, node string) string { return filepath.Join(StateDir(lab), "logs", nodeFileName(node)) }

func nodeFileName(node string) string {
	if node == switchNode {
		return "lans"
	}
	return node
}

func socketPath(lab, node string) string {
	return filepath.Join(StateDir(lab), "nodes", nodeFileName(node)+".sock")
}

// NetnsName is the `ip netns` name of a node's network namespace.
func NetnsName(lab, node string) string {
	if node == switchNode {
		return lab + switchNode
	}
	return lab + "-" + node
}

// NetnsPath is /run/netns/<lab>-<node>.
func NetnsPath(lab, node string) string { return filepath.Join(NetnsDir, NetnsName(lab, node)) }

// MAC derives a stable, locally administered unicast MAC address from the
// lab, node and interface names, so traces are the same run to run.
func MAC(lab, node, iface string) net.HardwareAddr {
	sum := sha256.Sum256([]byte(lab + "\x00" + node + "\x00" + iface))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = (mac[0] | 0x02) &^ 0x01
	return mac
}

// portName names the switch-side end of a node interface's veth: readable
// when it fits in IFNAMSIZ, a stable hash otherwise.
func portName(node, iface string) string {
	if n := node + "-" + iface; len(n) <= 15 {
		return n
	}
	sum := sha256.Sum256([]byte(node + "\x00" + iface))
	return fmt.Sprintf("p%x", sum[:7])
}

// bridgeName names a LAN's bridge in the switch namespace.
func bridgeName(lan string) string { return "br-" + lan }
