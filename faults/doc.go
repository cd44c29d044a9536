// Package faults is halab's one fault engine: what scenario steps
// (package scenarios) and the teaching page's buttons (package ui) do to a
// running lab goes through an Engine.
//
// Faults happen inside the nodes' namespaces, never in the host's:
//
//	daemons.go  signal, stop, start and restart a daemon (registered by
//	            its owner, or found by process name), signal any process
//	procs.go    processes of a node as /proc describes them; pidfd signals
//	node.go     crash (every process killed, links down, VIPs gone) and
//	            recover (links up, the killed daemons started again)
//	links.go    interfaces up and down; VIPs told from configured addresses
//	nft.go      partitions and VRRP blocks through nftables tables owned
//	            by halab (halab_part, halab_vrrp_PEER)
//	shape.go    packet loss (nftables numgen) and bandwidth (tc tbf); this
//	            kernel has no netem, so delay and jitter cannot be done
//	action.go   Action, the page's vocabulary, and Engine.Apply
package faults
