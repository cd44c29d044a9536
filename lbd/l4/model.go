package l4

import (
	"fmt"
	"net/netip"
	"time"
)

// Algo is an LVS scheduler name as written in keepalived.conf (lb_algo / lvs_sched).
type Algo string

// Schedulers lbd can program honestly into nftables.
const (
	AlgoRR  Algo = "rr"  // round robin; real servers of weight 0 receive no new connections
	AlgoWRR Algo = "wrr" // weighted round robin, the same sequence as IPVS's wrr
	AlgoSH  Algo = "sh"  // source hashing on the client address, weighted
)

// Backend is one real server as the datapath sees it: where to DNAT and how much.
type Backend struct {
	Addr   netip.AddrPort
	Weight int
}

func (b Backend) String() string { return fmt.Sprintf("[%s]:tcp:%d", b.Addr.Addr(), b.Addr.Port()) }

// ServiceSpec is one virtual service as the datapath programs it.
type ServiceSpec struct {
	VIP         netip.AddrPort // virtual address and TCP port
	Algo        Algo
	Persistence time.Duration  // 0: no persistence; otherwise client-address stickiness
	Sorry       netip.AddrPort // invalid: none; used when no real server is available
	// Reals are all the real servers that may ever be in the rotation; empty
	// means the backends given to Program.
	Reals []netip.AddrPort
}

func (s ServiceSpec) String() string { return fmt.Sprintf("[%s]:tcp:%d", s.VIP.Addr(), s.VIP.Port()) }
