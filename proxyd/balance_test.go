package proxyd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/proxyd/config"
)

func testPool(t *testing.T, balance config.Balance, servers ...*config.UpstreamServer) *pool {
	t.Helper()
	for i, s := range servers {
		if len(s.Addrs) == 0 {
			s.Addrs = []netip.AddrPort{netip.MustParseAddrPort("10.0.0." + string(rune('1'+i)) + ":80")}
		}
		if s.Weight == 0 {
			s.Weight = 1
		}
		if s.FailTimeout == 0 {
			s.FailTimeout = 10 * time.Second
		}
		if s.Name == "" {
			s.Name = s.Addrs[0].String()
		}
	}
	return newPool(&config.Upstream{Name: "u", Balance: balance, Servers: servers})
}

func exchangeFrom(ip string) *exchange {
	return &exchange{c: &clientConn{remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 1234)}, req: &request{unparsedURI: "/"}}
}

// pick runs one request's first selection and frees it as a success.
func pick(p *pool, x *exchange, now time.Time) string {
	sel := p.policy.start(p, x)
	pe := sel.next(now)
	if pe == nil {
		return "none"
	}
	sel.free(pe, false, now)
	return pe.addr.Addr().String()
}

func TestSmoothWeightedRoundRobin(t *testing.T) {
	// nginx's documented sequence for weights 5, 1, 1: a a b a c a a
	p := testPool(t, config.RoundRobin,
		&config.UpstreamServer{Weight: 5}, &config.UpstreamServer{Weight: 1}, &config.UpstreamServer{Weight: 1})
	now := time.Now()
	var got []string
	for i := 0; i < 14; i++ {
		got = append(got, pick(p, exchangeFrom("1.2.3.4"), now))
	}
	a, b, c := "10.0.0.1", "10.0.0.2", "10.0.0.3"
	assert.Equal(t, []string{a, a, b, a, c, a, a, a, a, b, a, c, a, a}, got)
}

func TestRoundRobinPassiveHealth(t *testing.T) {
	p := testPool(t, config.RoundRobin,
		&config.UpstreamServer{MaxFails: 1, FailTimeout: 10 * time.Second},
		&config.UpstreamServer{MaxFails: 1, FailTimeout: 10 * time.Second})
	now := time.Now()
	sel := p.policy.start(p, exchangeFrom("1.2.3.4"))
	first := sel.next(now)
	require.Equal(t, "10.0.0.1", first.addr.Addr().String())
	sel.free(first, true, now) // connection refused
	second := sel.next(now)
	require.Equal(t, "10.0.0.2", second.addr.Addr().String())
	sel.free(second, false, now)
	assert.Nil(t, sel.next(now), "both tried")

	// within fail_timeout the failed peer is skipped
	for i := 0; i < 3; i++ {
		assert.Equal(t, "10.0.0.2", pick(p, exchangeFrom("1.2.3.4"), now.Add(5*time.Second)))
	}
	// after fail_timeout it is tried again (its effective weight climbing
	// back from 0 as in nginx), and a success clears its failures
	got := map[string]int{}
	for i := 0; i < 6; i++ {
		got[pick(p, exchangeFrom("1.2.3.4"), now.Add(11*time.Second))]++
	}
	assert.GreaterOrEqual(t, got["10.0.0.1"], 2)
	assert.Equal(t, 0, p.primary.peers[0].fails)
}

func TestRoundRobinBackupAndDown(t *testing.T) {
	p := testPool(t, config.RoundRobin,
		&config.UpstreamServer{Down: true},
		&config.UpstreamServer{Backup: true})
	assert.Equal(t, "10.0.0.2", pick(p, exchangeFrom("1.2.3.4"), time.Now()))
	p = testPool(t, config.RoundRobin, &config.UpstreamServer{Down: true})
	assert.Equal(t, "none", pick(p, exchangeFrom("1.2.3.4"), time.Now()))
}

func TestSinglePeerNeverMarkedFailed(t *testing.T) {
	p := testPool(t, config.RoundRobin, &config.UpstreamServer{MaxFails: 1})
	now := time.Now()
	sel := p.policy.start(p, exchangeFrom("1.2.3.4"))
	pe := sel.next(now)
	sel.free(pe, true, now)
	assert.Equal(t, "10.0.0.1", pick(p, exchangeFrom("1.2.3.4"), now))
	assert.Equal(t, 1, sel.tries())
}

// ipHashIndex computes nginx's ip_hash choice by hand for equal weights.
func ipHashIndex(a [3]byte, n uint32) int {
	h := uint32(89)
	for _, c := range a {
		h = (h*113 + uint32(c)) % 6271
	}
	return int(h % n)
}

func TestIPHash(t *testing.T) {
	p := testPool(t, config.IPHash, &config.UpstreamServer{}, &config.UpstreamServer{}, &config.UpstreamServer{})
	now := time.Now()
	for _, ip := range []string{"10.0.1.10", "192.168.7.1", "127.0.0.1", "172.16.99.200", "8.8.8.8"} {
		a := netip.MustParseAddr(ip).As4()
		want := ipHashIndex([3]byte{a[0], a[1], a[2]}, 3)
		got := pick(p, exchangeFrom(ip), now)
		assert.Equal(t, "10.0.0."+string(rune('1'+want)), got, ip)
		// the last octet does not matter
		a[3]++
		assert.Equal(t, got, pick(p, exchangeFrom(netip.AddrFrom4(a).String()), now), ip)
	}
	// worked example from the lab test: 10.0.1.x over two servers -> the first
	assert.Equal(t, 0, ipHashIndex([3]byte{10, 0, 1}, 2))
}

func TestIPHashSkipsFailedPeer(t *testing.T) {
	p := testPool(t, config.IPHash, &config.UpstreamServer{MaxFails: 1}, &config.UpstreamServer{MaxFails: 1})
	now := time.Now()
	x := exchangeFrom("10.0.1.10")
	sel := p.policy.start(p, x)
	first := sel.next(now)
	require.Equal(t, "10.0.0.1", first.addr.Addr().String())
	sel.free(first, true, now)
	second := sel.next(now)
	require.NotNil(t, second)
	assert.Equal(t, "10.0.0.2", second.addr.Addr().String())
	sel.free(second, false, now)
	// the next request from the same client avoids the failed peer
	assert.Equal(t, "10.0.0.2", pick(p, exchangeFrom("10.0.1.10"), now))
}

func TestLeastConn(t *testing.T) {
	p := testPool(t, config.LeastConn, &config.UpstreamServer{}, &config.UpstreamServer{})
	now := time.Now()
	s1 := p.policy.start(p, exchangeFrom("1.1.1.1"))
	busy := s1.next(now) // held open
	got := map[string]int{}
	for i := 0; i < 4; i++ {
		got[pick(p, exchangeFrom("1.1.1.1"), now)]++
	}
	other := "10.0.0.1"
	if busy.addr.Addr().String() == other {
		other = "10.0.0.2"
	}
	assert.Equal(t, 4, got[other])
	s1.free(busy, false, now)
}

func TestHashStable(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		u := &config.Upstream{Name: "u", Balance: config.Hash, HashKey: "$request_uri", Consistent: consistent}
		for i := 0; i < 3; i++ {
			u.Servers = append(u.Servers, &config.UpstreamServer{Name: "10.0.0." + string(rune('1'+i)) + ":80", Weight: 1, FailTimeout: time.Second,
				Addrs: []netip.AddrPort{netip.MustParseAddrPort("10.0.0." + string(rune('1'+i)) + ":80")}})
		}
		p := newPool(u)
		now := time.Now()
		seen := map[string]bool{}
		for _, uri := range []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h"} {
			x := exchangeFrom("1.1.1.1")
			x.req.unparsedURI = uri
			first := pick(p, x, now)
			seen[first] = true
			x2 := exchangeFrom("9.9.9.9")
			x2.req.unparsedURI = uri
			assert.Equal(t, first, pick(p, x2, now), "same key, same peer")
		}
		assert.Greater(t, len(seen), 1, "keys spread over peers (consistent=%v)", consistent)
	}
}
