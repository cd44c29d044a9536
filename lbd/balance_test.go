package lbd

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"halab/lbd/haproxycfg"
)

func testServers(weights ...int) []*Server {
	var out []*Server
	for i, w := range weights {
		name := string(rune('1' + i))
		out = append(out, &Server{Cfg: &haproxycfg.Server{Name: name}, Name: name, Weight: w, up: true})
	}
	return out
}

func sequence(b Balancer, n int, src netip.Addr) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		s := b.Pick(src, nil)
		if s == nil {
			sb.WriteByte('-')
			continue
		}
		sb.WriteString(s.Name)
		b.Release(s)
	}
	return sb.String()
}

// The expected sequences were recorded from HAProxy 2.6.12 on loopback
// (40 sequential requests, one connection each).
func TestRoundRobinMatchesHAProxy(t *testing.T) {
	tests := []struct {
		weights []int
		want    string
	}{
		{[]int{1, 2, 3, 4}, "4342341432434234143243423414324342341432"},
		{[]int{5, 3, 1}, "1121321121121321121121321121121321121121"},
		{[]int{100, 100, 7, 256}, "4414241424414241424414243414241424414241"},
		{[]int{100, 100}, "1212121212121212121212121212121212121212"},
	}
	for _, tc := range tests {
		b := newFWRR(testServers(tc.weights...))
		assert.Equal(t, tc.want, sequence(b, 40, netip.Addr{}), "weights %v", tc.weights)
	}
}

func TestRoundRobinDownUp(t *testing.T) {
	srvs := testServers(1, 1, 1)
	b := newFWRR(srvs)
	assert.Equal(t, "123123", sequence(b, 6, netip.Addr{}))
	srvs[1].up = false
	b.SetDown(srvs[1])
	assert.Equal(t, "1313", sequence(b, 4, netip.Addr{}))
	srvs[1].up = true
	b.SetUp(srvs[1])
	got := sequence(b, 9, netip.Addr{})
	assert.Equal(t, 3, strings.Count(got, "2"), got)
}

func TestRoundRobinAvoid(t *testing.T) {
	srvs := testServers(1, 1)
	b := newFWRR(srvs)
	assert.Equal(t, "2", b.Pick(netip.Addr{}, srvs[0]).Name)
	one := testServers(1)
	b1 := newFWRR(one)
	assert.Equal(t, "1", b1.Pick(netip.Addr{}, one[0]).Name)
}

func TestBackupServers(t *testing.T) {
	srvs := testServers(1, 1, 1)
	srvs[1].Backup, srvs[2].Backup = true, true
	b := newFWRR(srvs)
	assert.Equal(t, "111", sequence(b, 3, netip.Addr{}))
	srvs[0].up = false
	b.SetDown(srvs[0])
	assert.Equal(t, "222", sequence(b, 3, netip.Addr{}))
}

func TestStaticRR(t *testing.T) {
	b := newMapBalancer(testServers(5, 3, 1), false)
	got := sequence(b, 18, netip.Addr{})
	assert.Equal(t, got[:9], got[9:])
	assert.Equal(t, 5, strings.Count(got[:9], "1"))
	assert.Equal(t, 3, strings.Count(got[:9], "2"))
}

func TestSourceHash(t *testing.T) {
	b := newMapBalancer(testServers(1, 1), true)
	assert.Equal(t, "2", b.Pick(netip.MustParseAddr("127.0.0.1"), nil).Name)
	assert.Equal(t, "1", b.Pick(netip.MustParseAddr("127.0.0.2"), nil).Name)
	assert.Equal(t, uint32(0x7f000001), sourceHash(netip.MustParseAddr("::ffff:127.0.0.1")))
}

func TestLeastConn(t *testing.T) {
	srvs := testServers(1, 1, 1)
	b := newLeastConn(srvs)
	assert.Equal(t, "123123", sequence(b, 6, netip.Addr{}))
	a := b.Pick(netip.Addr{}, nil)
	c := b.Pick(netip.Addr{}, nil)
	assert.NotEqual(t, a, c)
}

// Recorded from HAProxy 2.6.12: static-rr order and source-hash choices for
// clients 127.0.0.1 .. 127.0.0.13.
func TestMapMatchesHAProxy(t *testing.T) {
	assert.Equal(t, "112121213112121213", sequence(newMapBalancer(testServers(5, 3, 1), false), 18, netip.Addr{}))
	srcSeq := func(b Balancer) string {
		var sb strings.Builder
		for x := 1; x <= 13; x++ {
			sb.WriteString(b.Pick(netip.AddrFrom4([4]byte{127, 0, 0, byte(x)}), nil).Name)
		}
		return sb.String()
	}
	assert.Equal(t, "2121212121212", srcSeq(newMapBalancer(testServers(1, 1), true)))
	assert.Equal(t, "3123223123223", srcSeq(newMapBalancer(testServers(2, 6, 4), true)))
}

func TestRandom(t *testing.T) {
	srvs := testServers(3, 1, 0)
	b := newRandom(srvs)
	count := map[string]int{}
	for i := 0; i < 4000; i++ {
		count[b.Pick(netip.Addr{}, nil).Name]++
	}
	assert.Zero(t, count["3"], "weight 0 is never drawn")
	assert.Greater(t, count["1"], count["2"])
	assert.Equal(t, "2", b.Pick(netip.Addr{}, srvs[0]).Name)
}
