package lbd

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/lbd/haproxycfg"
)

// poolSim drives a connPool as the request paths do, with numbered
// connections.
type poolSim struct {
	t        *testing.T
	strategy string
	pool     connPool[*simConn]
	next     int
	closed   []int
	requests map[string]int // per client
}

type simConn struct {
	id     int
	served int
}

func newPoolSim(t *testing.T, strategy string) *poolSim {
	cfg := &haproxycfg.Server{PoolMaxConn: -1, PoolPurgeDelay: 5 * time.Second}
	return &poolSim{t: t, strategy: strategy, pool: connPool[*simConn]{counts: newConnCounts(cfg)}, requests: map[string]int{}}
}

// begin starts a request of client and returns the connection it goes on.
func (s *poolSim) begin(client string) *simConn {
	s.requests[client]++
	c, ok := s.pool.take(reuseFor(s.strategy, s.requests[client] > 1))
	if !ok {
		s.pool.counts.opened()
		s.next++
		c = &simConn{id: s.next}
	}
	c.served++
	return c
}

// end ends the request on c.
func (s *poolSim) end(c *simConn, now time.Time) {
	if kept, _ := s.pool.put(c, c.served > 1, now); !kept {
		s.pool.counts.closedInUse()
		s.closed = append(s.closed, c.id)
	}
}

// seq runs one request after the other, one a client (a letter).
func (s *poolSim) seq(clients string) []int {
	var ids []int
	for _, cl := range clients {
		c := s.begin(string(cl))
		ids = append(ids, c.id)
		s.end(c, time.Time{})
	}
	return ids
}

func TestConnPoolSequences(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		parallel int    // clients with one request at once first
		clients  string // then one request at a time, a client each letter
		want     []int
		closed   []int
	}{
		// a released connection that only carried its client's first
		// request goes when a connection already waits (the estimate of
		// needed connections is 1); later requests take the oldest
		{strategy: "safe", clients: "ABABABCC", want: []int{1, 2, 1, 1, 1, 1, 3, 1}, closed: []int{2, 3}},
		{strategy: "aggressive", clients: "AABBC", want: []int{1, 1, 1, 1, 1}},
		{strategy: "always", clients: "ABC", want: []int{1, 1, 1}},
		// three at once: three are needed, all stay, taken oldest first
		{strategy: "always", parallel: 3, clients: "DDDDDDDD", want: []int{1, 2, 3, 1, 2, 3, 1, 2}},
		// three needed: all stay; a new client's first request gets a
		// connection of its own, closed after it (four would exceed the
		// need); its second takes the oldest idle one
		{strategy: "safe", parallel: 3, clients: "PPQQ", want: []int{4, 1, 5, 2}, closed: []int{4, 5}},
	} {
		t.Run(fmt.Sprintf("%s/%d%s", tc.strategy, tc.parallel, tc.clients), func(t *testing.T) {
			s := newPoolSim(t, tc.strategy)
			var open []*simConn
			for i := range tc.parallel {
				open = append(open, s.begin(fmt.Sprint("p", i)))
			}
			for _, c := range open {
				s.end(c, time.Time{})
			}
			assert.Equal(t, tc.want, s.seq(tc.clients))
			assert.Equal(t, tc.closed, s.closed)
			cc := s.pool.counts
			assert.Equal(t, 0, cc.used, "connections in use")
			assert.Equal(t, s.pool.len(), cc.idle, "idle count")
		})
	}
}

// TestConnPoolPurge: every purge delay half the surplus over the
// estimated need goes (plus one, as HAProxy counts), and the estimate
// decays towards the connections used since the previous purge.
func TestConnPoolPurge(t *testing.T) {
	s := newPoolSim(t, "always")
	t0 := time.Unix(1000, 0)
	var open []*simConn
	for i := range 10 {
		open = append(open, s.begin(fmt.Sprint("p", i)))
	}
	for _, c := range open {
		s.end(c, t0)
	}
	require.Equal(t, 10, s.pool.len())
	kill, next := s.pool.purge(t0.Add(time.Second))
	assert.Empty(t, kill, "not due yet")
	assert.Equal(t, t0.Add(5*time.Second), next)

	var left []int
	now := t0
	for range 8 {
		now = next
		kill, next = s.pool.purge(now)
		left = append(left, s.pool.len())
		if next.IsZero() {
			break
		}
		assert.Equal(t, now.Add(5*time.Second), next)
	}
	// the estimate goes 10, 10, 5, 2, 1, 0; the surplus over it before
	// each purge 0, 0, 5 (3+1 go), 4 (2+1 go), 2 (1+1 go), 1
	assert.Equal(t, []int{10, 10, 6, 3, 1, 0}, left)
	assert.Equal(t, 0, s.pool.counts.idle)
	assert.True(t, s.pool.counts.purgeAt.IsZero())
}

func TestConnPoolLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   haproxycfg.Server
		wantN int
	}{
		{"unbounded", haproxycfg.Server{PoolMaxConn: -1, PoolPurgeDelay: time.Second}, 4},
		{"pool-max-conn 2", haproxycfg.Server{PoolMaxConn: 2, PoolPurgeDelay: time.Second}, 2},
		{"pool-max-conn 0", haproxycfg.Server{PoolMaxConn: 0, PoolPurgeDelay: time.Second}, 0},
		{"pool-purge-delay 0", haproxycfg.Server{PoolMaxConn: -1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPoolSim(t, "always")
			s.pool.counts = newConnCounts(&tc.cfg)
			var open []*simConn
			for i := range 4 {
				open = append(open, s.begin(fmt.Sprint("p", i)))
			}
			for _, c := range open {
				s.end(c, time.Time{})
			}
			assert.Equal(t, tc.wantN, s.pool.len())
			assert.Equal(t, tc.wantN, s.pool.counts.idle)
		})
	}
}

func TestFIFO(t *testing.T) {
	var q fifo[*simConn]
	cs := make([]*simConn, 100)
	for i := range cs {
		cs[i] = &simConn{id: i}
		q.push(cs[i])
	}
	require.True(t, q.remove(cs[1]))
	require.False(t, q.remove(cs[1]))
	assert.Equal(t, 99, q.len())
	var got []int
	for range 60 {
		c, ok := q.pop()
		require.True(t, ok)
		got = append(got, c.id)
	}
	assert.Equal(t, []int{0, 2, 3}, got[:3])
	q.push(cs[1]) // compacts
	assert.Equal(t, 40, q.len())
	var rest []int
	q.each(func(c *simConn) { rest = append(rest, c.id) })
	assert.Equal(t, 61, rest[0])
	assert.Equal(t, 1, rest[len(rest)-1])
	for q.len() > 0 {
		q.pop()
	}
	_, ok := q.pop()
	assert.False(t, ok)
}
