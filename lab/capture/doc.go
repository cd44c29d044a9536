// Package capture records packets on lab interfaces and reads them back.
//
// A capture opens an AF_PACKET socket (TPACKET_V3 ring, no libpcap, no cgo)
// inside a network namespace given by its path, bound to one interface. Each
// captured packet is kept with the node and interface it was seen on, written
// to a pcap file that tcpdump and Wireshark open, decoded into a [Packet] and
// printed in tcpdump's style by [Format].
//
// Captures never drop packets silently: the kernel's drop counter
// (PACKET_STATISTICS) is read while capturing and when stopping, reported in
// [Stats], logged, and turned into an error by [Capture.Stop].
//
// On top of decoded packets the package offers a small filter language
// ([ParseFilter]) for live traces, and trace expectations for tests
// ([Pattern], [ExpectSequence], [ExpectAbsent]).
//
// The package does not depend on the lab engine: callers pass the namespace
// path (for example /run/netns/<lab>-<node>), the interface name and the node
// name used as a label.
package capture
