package lbd

import (
	"sync"
	"time"

	"halab/lbd/haproxycfg"
)

// Idle server connections are pooled as HAProxy 2.6 pools them (server.c
// srv_add_to_idle_list and srv_cleanup_idle_conns, backend.c
// connect_server and conn_backend_get):
//
//   - a pool has two lists, oldest first: "idle" connections, whose last
//     request was their first, and "safe" ones, which have carried more
//     and so are known to survive reuse;
//   - a request takes the oldest connection of the lists its http-reuse
//     strategy allows (reuseKind);
//   - a released connection is kept while the pool has no safe connection
//     (and no idle one either unless it is safe itself), or while the
//     server's connections, used and idle, do not exceed the larger of
//     those in use and the estimate of those needed, plus pool-low-conn;
//     otherwise it is closed at once;
//   - every pool-purge-delay (5 s) the estimate moves halfway towards the
//     most connections used at once since the last purge, and about half
//     of the surplus idle connections close, idle list first.
//
// HAProxy keeps the lists per thread and the counters per server. lbd
// keeps the lists per pool (the event loop's, the goroutine path's) and
// the counters per server (connCounts), which is HAProxy with one thread
// whenever a server is reached from one path only, as it usually is. The
// file-descriptor ratios (tune.pool-low-fd-ratio...) are not modelled.

// reuseKind says which pooled connections a request may take.
type reuseKind uint8

const (
	// reuseNone: a connection of its own ("never", or the first request
	// of a client connection under "safe")
	reuseNone reuseKind = iota
	// reuseSafe: a safe connection (first request, "aggressive")
	reuseSafe
	// reuseSafeIdle: safe, else idle (first request, "always")
	reuseSafeIdle
	// reuseIdleSafe: idle, else safe (later requests of a client
	// connection, any strategy but "never")
	reuseIdleSafe
)

// reuseFor tells which pooled connections a request may take under a
// backend's http-reuse strategy; notFirst tells whether an earlier
// request came on the same client connection.
func reuseFor(strategy string, notFirst bool) reuseKind {
	switch {
	case strategy == "never":
		return reuseNone
	case notFirst:
		return reuseIdleSafe
	case strategy == "always":
		return reuseSafeIdle
	case strategy == "aggressive":
		return reuseSafe
	}
	return reuseNone
}

// The two lists of a pool.
const (
	listIdle = iota
	listSafe
)

// connCounts are one server's connection counters, shared by its pools.
type connCounts struct {
	mu         sync.Mutex
	used       int    // connections open and not pooled
	idle       int    // connections pooled
	inList     [2]int // of which in each list
	maxUsed    int    // the most used at once since the last purge
	estNeed    int    // the estimate of the connections needed
	maxIdle    int    // pool-max-conn: -1 for no bound
	lowIdle    int    // pool-low-conn
	purgeDelay time.Duration
	purgeAt    time.Time // the next purge, zero when none is due
}

func newConnCounts(cfg *haproxycfg.Server) *connCounts {
	return &connCounts{maxIdle: cfg.PoolMaxConn, lowIdle: cfg.PoolLowConn, purgeDelay: cfg.PoolPurgeDelay}
}

// opened counts a new connection to the server.
func (cc *connCounts) opened() {
	cc.mu.Lock()
	cc.use()
	cc.mu.Unlock()
}

// use counts one more connection in use; cc.mu is held.
func (cc *connCounts) use() {
	cc.used++
	cc.maxUsed = max(cc.maxUsed, cc.used)
	cc.estNeed = max(cc.estNeed, cc.used)
}

// poolStats are the figures HAProxy's statistics give of a server's
// connections.
type poolStats struct {
	idle, unsafeIdle, safeIdle, used, need int
	limit                                  int // -1: none
}

func (cc *connCounts) stats() poolStats {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return poolStats{idle: cc.idle, unsafeIdle: cc.inList[listIdle], safeIdle: cc.inList[listSafe],
		used: cc.used, need: cc.estNeed, limit: cc.maxIdle}
}

// closedInUse counts the close of a connection that was not pooled.
func (cc *connCounts) closedInUse() {
	cc.mu.Lock()
	cc.used--
	cc.mu.Unlock()
}

// connPool holds one pool's idle connections to a server.
type connPool[C comparable] struct {
	counts *connCounts
	lists  [2]fifo[C]
}

// take returns the oldest pooled connection a request may reuse.
func (p *connPool[C]) take(k reuseKind) (C, bool) {
	var order []int
	switch k {
	case reuseSafe:
		order = []int{listSafe}
	case reuseSafeIdle:
		order = []int{listSafe, listIdle}
	case reuseIdleSafe:
		order = []int{listIdle, listSafe}
	}
	for _, l := range order {
		if c, ok := p.lists[l].pop(); ok {
			cc := p.counts
			cc.mu.Lock()
			cc.idle--
			cc.inList[l]--
			cc.use()
			cc.mu.Unlock()
			return c, true
		}
	}
	var zero C
	return zero, false
}

// put offers a connection whose request is over to the pool; safe tells
// whether that request was not the connection's first. It reports
// whether the pool kept it; the caller closes it otherwise. A purge
// becoming due is returned for the caller to run it then (see purge).
func (p *connPool[C]) put(c C, safe bool, now time.Time) (kept bool, purgeAt time.Time) {
	cc := p.counts
	cc.mu.Lock()
	defer cc.mu.Unlock()
	fits := p.lists[listSafe].len() == 0 && (safe || p.lists[listIdle].len() == 0) ||
		cc.used+cc.idle <= max(cc.used, cc.estNeed)+cc.lowIdle
	if cc.purgeDelay <= 0 || cc.maxIdle == 0 || (cc.maxIdle > 0 && cc.idle >= cc.maxIdle) || !fits {
		return false, time.Time{}
	}
	cc.idle++
	cc.used--
	l := listIdle
	if safe {
		l = listSafe
	}
	p.lists[l].push(c)
	cc.inList[l]++
	if cc.purgeAt.IsZero() {
		cc.purgeAt = now.Add(cc.purgeDelay)
	}
	return true, cc.purgeAt
}

// remove takes out of the pool a connection closed while pooled (the
// server closed it); it reports whether c was there.
func (p *connPool[C]) remove(c C) bool {
	for l := range p.lists {
		if p.lists[l].remove(c) {
			p.counts.mu.Lock()
			p.counts.idle--
			p.counts.inList[l]--
			p.counts.mu.Unlock()
			return true
		}
	}
	return false
}

// purge runs the server's purge if it is due: it returns the connections
// to close (taken out of the pool) and when to call it next, zero when
// the pool has nothing left to purge.
func (p *connPool[C]) purge(now time.Time) (kill []C, next time.Time) {
	cc := p.counts
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.purgeAt.IsZero() || now.Before(cc.purgeAt) {
		if p.len() == 0 {
			return nil, time.Time{}
		}
		return nil, cc.purgeAt
	}
	if cc.idle > 0 {
		exceed := cc.used + cc.idle - max(cc.maxUsed, cc.estNeed)
		exceed = exceed/2 + exceed&1
		cc.estNeed = max((cc.estNeed+cc.maxUsed)/2, cc.maxUsed)
		cc.maxUsed = cc.used
		if exceed > 0 {
			// this pool's share of the surplus, as HAProxy shares it
			// between threads
			n := exceed*p.len()/cc.idle + 1
			for _, l := range []int{listIdle, listSafe} {
				for len(kill) < n {
					c, ok := p.lists[l].pop()
					if !ok {
						break
					}
					kill = append(kill, c)
					cc.inList[l]--
				}
			}
			cc.idle -= len(kill)
		}
	}
	cc.purgeAt = time.Time{}
	if cc.idle > 0 {
		cc.purgeAt = now.Add(cc.purgeDelay)
	}
	if p.len() == 0 {
		return kill, time.Time{}
	}
	return kill, cc.purgeAt
}

// drain empties the pool, returning its connections to close.
func (p *connPool[C]) drain() []C {
	var all []C
	p.counts.mu.Lock()
	defer p.counts.mu.Unlock()
	for l := range p.lists {
		for {
			c, ok := p.lists[l].pop()
			if !ok {
				break
			}
			all = append(all, c)
			p.counts.idle--
			p.counts.inList[l]--
		}
	}
	return all
}

func (p *connPool[C]) len() int { return p.lists[listIdle].len() + p.lists[listSafe].len() }

// each calls f for the pooled connections, oldest first per list.
func (p *connPool[C]) each(f func(C)) {
	for l := range p.lists {
		p.lists[l].each(f)
	}
}

// fifo is a first-in first-out queue that can also drop an element from
// its middle (left as a hole that pop skips).
type fifo[C comparable] struct {
	items []C
	head  int
	holes int
}

func (q *fifo[C]) len() int { return len(q.items) - q.head - q.holes }

func (q *fifo[C]) push(c C) {
	if q.head > 0 && q.head >= len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, c)
}

func (q *fifo[C]) pop() (C, bool) {
	var zero C
	for q.head < len(q.items) {
		c := q.items[q.head]
		q.items[q.head] = zero
		q.head++
		if c != zero {
			return c, true
		}
		q.holes--
	}
	q.items, q.head = q.items[:0], 0
	return zero, false
}

func (q *fifo[C]) remove(c C) bool {
	var zero C
	for i := q.head; i < len(q.items); i++ {
		if q.items[i] == c {
			q.items[i] = zero
			q.holes++
			return true
		}
	}
	return false
}

func (q *fifo[C]) each(f func(C)) {
	var zero C
	for _, c := range q.items[q.head:] {
		if c != zero {
			f(c)
		}
	}
}
