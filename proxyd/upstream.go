package proxyd

import (
	"net/netip"
	"sync"
	"time"

	"halab/proxyd/config"
)

// peer is one upstream address with nginx's round-robin and passive
// health state (ngx_http_upstream_rr_peer_t). Mutable fields are guarded
// by the pool's mutex.
type peer struct {
	addr        netip.AddrPort
	name        string // addr as text, for $upstream_addr and logs
	server      string // the server line's name, for consistent hashing
	weight      int
	maxFails    int
	failTimeout time.Duration
	down        bool

	currentWeight   int
	effectiveWeight int
	conns           int
	fails           int
	accessed        time.Time
	checked         time.Time
}

// usable reports whether the peer may be tried now: not down and not
// failed max_fails times within fail_timeout.
func (p *peer) usable(now time.Time) bool {
	if p.down {
		return false
	}
	if p.maxFails > 0 && p.fails >= p.maxFails && now.Sub(p.checked) <= p.failTimeout {
		return false
	}
	return true
}

// peerSet is the primary or the backup list of a pool.
type peerSet struct {
	peers       []*peer
	totalWeight int
	single      bool
}

// pool is the runtime form of an upstream block.
type pool struct {
	name    string
	mu      sync.Mutex
	primary *peerSet
	backup  *peerSet
	policy  policy
	idle    *connCache // nil without keepalive
	zoned   bool       // a peer's address has an IPv6 zone
}

// loopable tells whether an event loop can pass requests to the pool:
// no keepalive cache (the goroutine path's), no zones (only
// internal/tcpdial looks them up).
func (p *pool) loopable() bool { return p.idle == nil && !p.zoned }

// policy starts the peer selection for one request.
type policy interface {
	start(p *pool, x *exchange) selector
}

// selector hands out peers for one request, one try at a time, and takes
// back the outcome of each try.
type selector interface {
	// next returns the peer for the next try, or nil when no upstream is live.
	next(now time.Time) *peer
	// free returns the peer after a try; failed marks a failure for
	// passive health checks.
	free(p *peer, failed bool, now time.Time)
	// tries is how many peers a request may try in all.
	tries() int
}

func newPool(u *config.Upstream) *pool {
	p := &pool{name: u.Name}
	var prim, back []*peer
	for _, s := range u.Servers {
		for _, a := range s.Addrs {
			p.zoned = p.zoned || a.Addr().Zone() != ""
			pe := &peer{
				addr: a, name: a.String(), server: s.Name, weight: s.Weight, maxFails: s.MaxFails,
				failTimeout: s.FailTimeout, down: s.Down, effectiveWeight: s.Weight,
			}
			if s.Backup {
				back = append(back, pe)
			} else {
				prim = append(prim, pe)
			}
		}
	}
	p.primary = newPeerSet(prim)
	if len(back) > 0 {
		p.backup = newPeerSet(back)
	} else {
		p.primary.single = len(prim) == 1
	}
	switch u.Balance {
	case config.IPHash:
		p.policy = ipHashPolicy{}
	case config.LeastConn:
		p.policy = leastConnPolicy{}
	case config.Hash:
		if u.Consistent {
			p.policy = newConsistentHash(u.HashKey, p.primary)
		} else {
			p.policy = hashPolicy{key: u.HashKey}
		}
	default:
		p.policy = roundRobinPolicy{}
	}
	if u.Keepalive > 0 {
		p.idle = newConnCache(u.Keepalive)
	}
	return p
}

func newPeerSet(peers []*peer) *peerSet {
	s := &peerSet{peers: peers}
	for _, p := range peers {
		s.totalWeight += p.weight
	}
	return s
}
