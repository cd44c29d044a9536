// Package l4 is lbd's layer-4 NAT mode: keepalived's virtual_server blocks
// (LVS lb_kind NAT) programmed into nftables instead of IPVS.
//
// Data flows one way: keepalived.conf -> [Config] (plain structs, validated
// with FILE:LINE errors) -> [Datapath] (one nftables table owned by lbd) and
// [Checker]s (per real server health checks that move real servers in and out
// of the datapath atomically).
//
// The datapath DNATs the first packet of each TCP connection to VIP:port to a
// real server chosen in the kernel (numgen for rr/wrr, jhash of the client
// address for sh). Conntrack keeps every later packet of the connection on the
// same real server and un-NATs the replies, which must route back through the
// director, exactly as with LVS-NAT. The client's source address is never
// rewritten.
package l4
