// Package scenarios runs declarative HA scenarios: a topology, the daemons of
// each node (ours or Debian's reference daemons, on the same native config
// files), and an ordered list of steps that start traffic, inject faults,
// wait for conditions and check expectations.
//
// Data flows one way: scenario file (format.go) -> validated Scenario
// (validate.go) -> a lab with daemons (daemons.go) driven by steps (faults.go,
// traffic.go) while a monitor samples VIP holders and VRRP states
// (monitor.go) -> expectations checked through package assert (expect.go) ->
// a Result with a timeline (result.go) that package reports renders.
//
// A minimal scenario, run with labapp only:
//
//	name: app-link-flap
//	topology: ../../topologies/simple.yaml
//	steps:
//	  - traffic: {name: web, from: nginx01, url: "http://10.0.2.21/", rate: 20, duration: 4s}
//	  - pause: 1s
//	  - link_down: {node: app01, iface: eth0}
//	  - pause: 1s
//	  - link_up: {node: app01, iface: eth0}
//	  - expect: {traffic: web, max_failures: 40, longest_outage_under: 2500ms, apps: [app01]}
//
// What cannot be done on this machine: the kernel has no netem, so there is no
// delay, jitter, reordering or duplication; packet loss is random drops in
// nftables (numgen random mod 100 < N) and bandwidth limits are a tc tbf qdisc
// on the egress of an interface. The reference L4 layer (keepalived
// virtual_server) needs IPVS, which this kernel lacks: it is n/a there.
package scenarios
