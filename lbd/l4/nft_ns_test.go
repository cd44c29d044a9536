package l4

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type dpFixture struct {
	*testNet
	d       *Datapath
	stopRS1 func()
	vip     netip.AddrPort
	b1, b2  Backend
}

// newDPFixture builds the test network, starts "rs1"/"rs2" HTTP servers on
// port 80 and opens a datapath in the director.
func newDPFixture(t testing.TB) *dpFixture {
	n := newTestNet(t)
	stop1 := serveWho(t, n.rs1, n.RS1+":80", "rs1")
	serveWho(t, n.rs2, n.RS2+":80", "rs2")
	d, err := OpenDatapath(DatapathOptions{NetNSFd: int(n.directorFd)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return &dpFixture{testNet: n, d: d, stopRS1: stop1, vip: netip.MustParseAddrPort(n.VIP + ":80"),
		b1: Backend{netip.MustParseAddrPort(n.RS1 + ":80"), 1},
		b2: Backend{netip.MustParseAddrPort(n.RS2 + ":80"), 1}}
}

// who returns the name of the real server that answered a fresh connection
// from the client (from source address src if not empty), checking that the
// real server saw the client's own address.
func (f *dpFixture) who(t *testing.T, src string) string {
	t.Helper()
	name, err := f.tryWho(t, src)
	require.NoError(t, err)
	return name
}

// tryWho is who for moments when a connection may be refused (a dead real
// server still in the rotation).
func (f *dpFixture) tryWho(t testing.TB, src string) (string, error) {
	t.Helper()
	if src == "" {
		src = "10.66.1.10"
	}
	var c net.Conn
	if err := inNS(t, f.client, func() (err error) {
		d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err = d.Dial("tcp4", f.vip.String())
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	name, peer := request(t, c)
	require.Equal(t, src, peer, "the real server must see the client's address")
	return name, nil
}

// request sends one HTTP/1.1 request on c and returns the server's name and
// the peer address it saw.
func request(t testing.TB, c net.Conn) (name, peer string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: vip\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	fields := strings.Fields(string(b))
	require.Len(t, fields, 2, "body %q", b)
	return fields[0], fields[1]
}

// ruleset lists the director's whole ruleset: nft must be able to read
// everything lbd programs, and to parse its own listing back.
func (f *dpFixture) ruleset(t testing.TB) string {
	t.Helper()
	out := nsExec(t, f.director, "nft", "list", "ruleset")
	file := filepath.Join(t.TempDir(), "ruleset.nft")
	require.NoError(t, os.WriteFile(file, []byte("flush ruleset\n"+out), 0o600))
	nsExec(t, f.director, "nft", "-c", "-f", file)
	return out
}

func (f *dpFixture) sequence(t *testing.T, n int) []string {
	var got []string
	for range n {
		got = append(got, f.who(t, ""))
	}
	return got
}

func TestDatapathRoundRobin(t *testing.T) {
	f := newDPFixture(t)
	require.NoError(t, f.d.Program([]ServiceSpec{{VIP: f.vip, Algo: AlgoRR}}, [][]Backend{{f.b1, f.b2}}))
	ruleset := f.ruleset(t)
	t.Log(ruleset)
	assert.Contains(t, ruleset, "numgen inc mod 2 vmap { 0 : goto vs0_rs0, 1 : goto vs0_rs1 }")
	assert.Contains(t, ruleset, "dnat to 10.66.2.11:80")
	assert.Contains(t, ruleset, "10.66.1.100 . 80 : jump vs0")
	assert.NotContains(t, ruleset, "masquerade")
	assert.Equal(t, []string{"rs1", "rs2", "rs1", "rs2"}, f.sequence(t, 4))
}

func TestDatapathWeightedRoundRobin(t *testing.T) {
	f := newDPFixture(t)
	f.b1.Weight = 3
	require.NoError(t, f.d.Program([]ServiceSpec{{VIP: f.vip, Algo: AlgoWRR}}, [][]Backend{{f.b1, f.b2}}))
	assert.Equal(t, []string{"rs1", "rs1", "rs1", "rs2", "rs1", "rs1", "rs1", "rs2"}, f.sequence(t, 8))
}

// addClientAddrs gives the client extra source addresses 10.66.1.20.. .
func (f *dpFixture) addClientAddrs(t *testing.T, n int) []string {
	var out []string
	for i := range n {
		a := fmt.Sprintf("10.66.1.%d", 20+i)
		nsExec(t, f.client, "ip", "addr", "add", a+"/24", "dev", "vc")
		out = append(out, a)
	}
	return out
}

func TestDatapathSourceHash(t *testing.T) {
	f := newDPFixture(t)
	require.NoError(t, f.d.Program([]ServiceSpec{{VIP: f.vip, Algo: AlgoSH}}, [][]Backend{{f.b1, f.b2}}))
	assert.Contains(t, f.ruleset(t), "jhash ip saddr mod 2 seed 0x1ab4d vmap { 0 : goto vs0_rs0, 1 : goto vs0_rs1 }")
	seen := map[string]int{}
	for _, src := range f.addClientAddrs(t, 8) {
		first := f.who(t, src)
		seen[first]++
		for range 2 {
			assert.Equal(t, first, f.who(t, src), "client %s must stick to its real server", src)
		}
	}
	assert.Len(t, seen, 2, "8 clients spread over both real servers: %v", seen)
}

func TestDatapathPersistence(t *testing.T) {
	f := newDPFixture(t)
	spec := ServiceSpec{VIP: f.vip, Algo: AlgoRR, Persistence: 300 * time.Second}
	require.NoError(t, f.d.Program([]ServiceSpec{spec}, [][]Backend{{f.b1, f.b2}}))
	srcs := f.addClientAddrs(t, 2)
	first := f.who(t, srcs[0])
	second := f.who(t, srcs[1])
	assert.NotEqual(t, first, second, "new clients are still round-robined")
	for range 3 {
		assert.Equal(t, first, f.who(t, srcs[0]))
		assert.Equal(t, second, f.who(t, srcs[1]))
	}
	ruleset := f.ruleset(t)
	assert.Contains(t, ruleset, srcs[0]+" expires")
	assert.Contains(t, ruleset, "ip saddr @vs0_p0 goto vs0_rs0")
	assert.Contains(t, ruleset, "update @vs0_p1 { ip saddr }")

	// The real server of srcs[0] leaves: its clients move, the others stay.
	gone, keep := f.b1, f.b2
	if first == "rs2" {
		gone, keep = f.b2, f.b1
	}
	changed, err := f.d.SetBackends(0, []Backend{keep})
	require.NoError(t, err)
	require.True(t, changed)
	assert.NotContains(t, f.ruleset(t), srcs[0]+" expires", "the clients of a real server that left are forgotten")
	moved := f.who(t, srcs[0])
	assert.NotEqual(t, first, moved)
	assert.Equal(t, second, f.who(t, srcs[1]))

	// It comes back: the moved client keeps its new real server.
	_, err = f.d.SetBackends(0, []Backend{f.b1, f.b2})
	require.NoError(t, err)
	for range 3 {
		assert.Equal(t, moved, f.who(t, srcs[0]))
	}
	_ = gone
}

func TestDatapathSorryServerAndEmpty(t *testing.T) {
	f := newDPFixture(t)
	serveWho(t, f.rs2, f.RS2+":8080", "sorry")
	spec := ServiceSpec{VIP: f.vip, Algo: AlgoRR, Sorry: netip.MustParseAddrPort(f.RS2 + ":8080"),
		Reals: []netip.AddrPort{f.b1.Addr, f.b2.Addr}}
	require.NoError(t, f.d.Program([]ServiceSpec{spec, {VIP: netip.MustParseAddrPort(f.VIP + ":81"), Algo: AlgoRR}},
		[][]Backend{{f.b1}, nil}))
	assert.Equal(t, []string{"rs1", "rs1"}, f.sequence(t, 2))

	_, err := f.d.SetBackends(0, nil)
	require.NoError(t, err)
	assert.Contains(t, f.ruleset(t), "dnat to 10.66.3.12:8080")
	assert.Equal(t, []string{"sorry", "sorry"}, f.sequence(t, 2))

	// A service without real servers nor sorry server refuses at once, like
	// IPVS (ICMP port unreachable), instead of hanging the client.
	err = inNS(t, f.client, func() error {
		c, err := net.DialTimeout("tcp4", f.VIP+":81", 3*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused")

	_, err = f.d.SetBackends(0, []Backend{f.b2})
	require.NoError(t, err)
	assert.Equal(t, []string{"rs2", "rs2"}, f.sequence(t, 2))

	_, err = f.d.SetBackends(0, []Backend{{netip.MustParseAddrPort("10.66.2.99:80"), 1}})
	assert.ErrorContains(t, err, "has no real server 10.66.2.99:80")
	assert.Equal(t, []string{"rs2", "rs2"}, f.sequence(t, 2), "a refused update changes nothing")
}

// TestDatapathUpdateKeepsConnections checks that a map update leaves
// established connections on their real server, leaves the base chains and
// other tables alone, and that the table is gone after Close.
func TestDatapathUpdateKeepsConnections(t *testing.T) {
	f := newDPFixture(t)
	nsExec(t, f.director, "nft", "add table ip other; add chain ip other keepme { type filter hook forward priority 0; }; add rule ip other keepme counter accept")
	require.NoError(t, f.d.Program([]ServiceSpec{{VIP: f.vip, Algo: AlgoRR}}, [][]Backend{{f.b1, f.b2}}))
	before := nsExec(t, f.director, "nft", "-a", "list", "chain", "ip", DefaultTable, "prerouting")

	var c net.Conn
	require.NoError(t, inNS(t, f.client, func() (err error) {
		c, err = net.DialTimeout("tcp4", f.vip.String(), 3*time.Second)
		return err
	}))
	defer c.Close()
	name, _ := request(t, c)
	require.Equal(t, "rs1", name)

	changed, err := f.d.SetBackends(0, []Backend{f.b2})
	require.NoError(t, err)
	require.True(t, changed)
	changed, err = f.d.SetBackends(0, []Backend{f.b2})
	require.NoError(t, err)
	require.False(t, changed, "same backends: no transaction")
	for range 3 {
		name, _ = request(t, c)
		assert.Equal(t, "rs1", name, "the established connection stays on rs1")
	}
	assert.Equal(t, []string{"rs2", "rs2"}, f.sequence(t, 2))
	assert.Equal(t, before, nsExec(t, f.director, "nft", "-a", "list", "chain", "ip", DefaultTable, "prerouting"),
		"base chain untouched (same rule handles)")

	require.NoError(t, f.d.Close())
	ruleset := nsExec(t, f.director, "nft", "list", "ruleset")
	assert.NotContains(t, ruleset, DefaultTable)
	assert.Contains(t, ruleset, "table ip other")
	// Established connections do not outlive lbd: with its nat chains gone the
	// kernel unregisters the NAT hooks unless another nat table remains.
}

// TestDatapathReplacesLeftover: a table left by a SIGKILLed lbd is replaced.
func TestDatapathReplacesLeftover(t *testing.T) {
	f := newDPFixture(t)
	nsExec(t, f.director, "nft", "add table ip "+DefaultTable+"; add chain ip "+DefaultTable+" stale { type nat hook prerouting priority 0; }; add rule ip "+DefaultTable+" stale tcp dport 80 dnat to 10.66.9.9")
	require.NoError(t, f.d.Program([]ServiceSpec{{VIP: f.vip, Algo: AlgoRR}}, [][]Backend{{f.b1}}))
	ruleset := nsExec(t, f.director, "nft", "list", "table", "ip", DefaultTable)
	assert.NotContains(t, ruleset, "stale")
	assert.Equal(t, "rs1", f.who(t, ""))
}

// TestDatapathNoServices: a keepalived.conf without virtual_server (vrrpd's
// blocks only) gives an empty, harmless table.
func TestDatapathNoServices(t *testing.T) {
	f := newDPFixture(t)
	require.NoError(t, f.d.Program(nil, nil))
	ruleset := nsExec(t, f.director, "nft", "list", "table", "ip", DefaultTable)
	assert.Contains(t, ruleset, "vmap @services")
	_, err := f.d.SetBackends(0, nil)
	assert.Error(t, err)
	// Traffic to the director's own addresses is untouched.
	require.Error(t, inNS(t, f.client, func() error {
		c, err := net.DialTimeout("tcp4", f.vip.String(), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}), "nothing listens on the VIP itself")
}

// TestDatapathPersistenceHeldByTraffic: like an IPVS persistence template, a
// client's entry does not expire while one of its connections is active.
func TestDatapathPersistenceHeldByTraffic(t *testing.T) {
	f := newDPFixture(t)
	spec := ServiceSpec{VIP: f.vip, Algo: AlgoRR, Persistence: time.Second}
	require.NoError(t, f.d.Program([]ServiceSpec{spec}, [][]Backend{{f.b1, f.b2}}))
	assert.Contains(t, f.ruleset(t), "ct original proto-dst 80 ip saddr @vs0_p0 update @vs0_p0 { ip saddr }")

	var c net.Conn
	require.NoError(t, inNS(t, f.client, func() (err error) {
		c, err = net.DialTimeout("tcp4", f.vip.String(), 3*time.Second)
		return err
	}))
	defer c.Close()
	first, _ := request(t, c)
	// Three persistence timeouts of traffic on the same connection...
	for range 12 {
		time.Sleep(250 * time.Millisecond)
		name, _ := request(t, c)
		require.Equal(t, first, name)
	}
	// ...and a new connection still goes to the same real server, although
	// round robin's next pick is the other one.
	assert.Equal(t, first, f.who(t, ""))

	// Idle for longer than the timeout: the client is scheduled afresh.
	c.Close()
	time.Sleep(1500 * time.Millisecond)
	assert.NotContains(t, f.ruleset(t), "10.66.1.10 expires")
}
