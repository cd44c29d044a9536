// Package vrrpd is a VRRP daemon (RFC 3768 VRRPv2, RFC 5798 VRRPv3, IPv4)
// that reads keepalived.conf and interoperates with keepalived.
//
// Data flows one way: keepalived.conf -> kaconf tree -> Config (config.go)
// -> running instances (instance.go) driven by the state machine (fsm.go),
// which speaks packets (packet.go) over a raw socket (socket.go) and
// manages addresses (vip.go) when it becomes or stops being master.
package vrrpd
