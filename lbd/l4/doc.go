// Package l4 is lbd's layer-4 NAT mode: keepalived's virtual_server blocks
// (LVS lb_kind NAT) programmed into nftables instead of IPVS, which this
// kernel lacks.
//
// Data flows one way: keepalived.conf -> [Config] (plain structs, validated
// with FILE:LINE errors) -> [Datapath] (one nftables table, ip halab_lbd,
// laid out as described in nft_rules.go) and health checkers run by a
// [Balancer], which move real servers in and out of the rotation in one
// netlink transaction each. [RunDaemon] ties them together for cmd/lbd.
//
// The datapath DNATs the first packet (a SYN) of each TCP connection to
// VIP:port to a real server chosen in the kernel: numgen for rr and wrr
// (weights expanded into IPVS's exact wrr sequence), jhash of the client
// address for sh. Conntrack keeps every later packet of the connection on the
// same real server and un-NATs the replies, which must route back through the
// director, as with LVS-NAT. The client's source address is never rewritten.
//
// Where lbd differs from keepalived with IPVS:
//   - lb_algo lc, wlc and the other connection-counting schedulers are
//     refused: nftables cannot compare live connection counts when it
//     schedules a connection. keepalived's default (wlc) must be replaced by
//     an explicit rr, wrr or sh. IPv4 and TCP only; NAT only (DR and TUN are
//     refused with FILE:LINE).
//   - persistence_timeout keeps, per real server, a dynamic set of client
//     addresses; a client's traffic to the VIP restarts its timeout, so an
//     entry lives while the client is active, as an IPVS template does while
//     connections it controls exist. Entries of a real server that leaves the
//     rotation are dropped; a quiesced (weight 0) server loses its persistent
//     clients, where IPVS would keep them by default.
//   - When lbd exits its table goes, and with it the kernel's NAT hooks
//     (unless another nat table exists): established connections through the
//     director stop, where IPVS connections outlive keepalived.
//   - A reload (SIGHUP) reprograms the table and restarts the health checks
//     with every real server up (or down with alpha).
package l4
