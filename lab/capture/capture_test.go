package capture

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCaptureVeth captures both ends of a veth pair while known traffic
// runs (ping, a TCP exchange, UDP, a crafted VRRP advert and a gratuitous
// ARP), and checks the decoded trace, the merged text and the pcap files.
func TestCaptureVeth(t *testing.T) {
	v := newVethNet(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pcapA, pcapB := filepath.Join(dir, "a-veth0.pcap"), filepath.Join(dir, "b-veth1.pcap")
	g, err := StartGroup(ctx, []Spec{
		{Node: "a", Iface: "veth0", NetNS: v.pathA, PcapPath: pcapA},
		{Node: "b", Iface: "veth1", NetNS: v.pathB, PcapPath: pcapB},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = g.Stop() })
	start := time.Now()

	require.NoError(t, ping(v.nsA, v.addrB, 77, 1))
	ln, served, err := listenTCP(v.nsB, "10.77.0.2:8081")
	require.NoError(t, err)
	defer ln.Close()
	require.NoError(t, tcpExchange(v.nsA, "10.77.0.2:8081"))
	require.NoError(t, <-served)
	ul, err := udpListener(v.nsB, "10.77.0.2:6000")
	require.NoError(t, err)
	defer ul.Close()
	uc, err := udpConn(v.nsA, "10.77.0.2:6000")
	require.NoError(t, err)
	_, err = uc.Write([]byte("datagram"))
	require.NoError(t, err)
	require.NoError(t, uc.Close())
	vip := netip.MustParseAddr("10.77.0.100")
	advert := vrrpPacket(t, v.addrA, &VRRP{Version: 2, VRID: 51, Priority: 90, AuthType: VRRPAuthSimple,
		Interval: time.Second, Addrs: []netip.Addr{vip}, Auth: []byte("secret")})
	require.NoError(t, sendFrame(v.nsA, v.ifA, advert))
	require.NoError(t, sendFrame(v.nsA, v.ifA, arpPacket(t, ARPRequest, macV, vip, zeroHW, vip)))

	// The last frame arrives on b: wait for it, then stop.
	capB := g.Captures()[1]
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	_, err = capB.WaitFor(wctx, GratuitousARP(vip))
	require.NoError(t, err)
	stats, err := g.Stop()
	require.NoError(t, err, "no drops, no errors")
	require.Len(t, stats, 2)
	for _, st := range stats {
		assert.Zero(t, st.Dropped)
		assert.NotZero(t, st.Captured)
	}

	all := g.Packets()
	onB := Select(all, AnyPacket().On("b", "veth1"))
	assert.Equal(t, int(stats[1].Captured), len(onB))
	a, b := v.addrA, v.addrB
	steps := []Pattern{
		AnyPacket().ICMPType(ICMPEchoRequest).From(a).To(b),
		AnyPacket().ICMPType(ICMPEchoReply).From(b).To(a),
		TCPSegment(FlagSYN).From(a).To(b).DstPort(8081),
		TCPSegment(FlagSYN | FlagACK).From(b).SrcPort(8081),
		TCPSegment(FlagACK).From(a).DstPort(8081),
		TCPSegment(FlagPSH|FlagACK).From(a).DstPort(8081).Where("5 bytes", func(p *Packet) bool { return p.TCP.PayloadLen == 5 }),
		TCPSegment(FlagPSH | FlagACK).From(b).SrcPort(8081),
		TCPSegment(FlagFIN | FlagACK).From(a),
		TCPSegment(FlagFIN | FlagACK).From(b),
		TCPSegment(FlagACK).From(a).DstPort(8081),
		AnyPacket().Proto(ProtoUDP).From(a).DstPort(6000),
		VRRPAdvert().VRID(51).Priority(90).From(a).FromMAC(macV),
		GratuitousARP(vip).FromMAC(macV),
	}
	// The final ACK may race with the UDP datagram sent next: check the
	// exchange and what follows it as two sequences.
	require.NoError(t, ExpectSequence(onB, steps[:10], 20*time.Second))
	require.NoError(t, ExpectSequence(onB, append(steps[:9:9], steps[10:]...), 20*time.Second))
	require.NoError(t, ExpectSequence(Select(all, AnyPacket().On("a", "veth0")), steps[:10], 20*time.Second), "a sees its own traffic both ways")
	require.NoError(t, ExpectAbsent(all, VRRPAdvert().From(b), start))

	// Both ends in one time-ordered trace: each echo request is seen on a
	// (sent) no later than on b (received).
	require.NoError(t, ExpectSequence(all, []Pattern{
		AnyPacket().ICMPType(ICMPEchoRequest).On("a", "veth0"),
		AnyPacket().ICMPType(ICMPEchoRequest).On("b", "veth1"),
	}, time.Second))
	var text bytes.Buffer
	require.NoError(t, WriteText(&text, onB, MustParseFilter("vrrp or arp host 10.77.0.100")))
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	require.Len(t, lines, 2, text.String())
	assert.Regexp(t, `^b:veth1 \d\d:\d\d:\d\d\.\d{6} IP 10\.77\.0\.1 > 224\.0\.0\.18: VRRPv2, Advertisement, vrid 51, prio 90, authtype simple, intvl 1s, length 20, addrs: 10\.77\.0\.100 auth "secret"$`, lines[0])
	assert.Regexp(t, `^b:veth1 \d\d:\d\d:\d\d\.\d{6} ARP, Request who-has 10\.77\.0\.100 tell 10\.77\.0\.100, length 46 \(gratuitous\)$`, lines[1])
	text.Reset()
	require.NoError(t, WriteText(&text, all, Filter{}))
	assertTimeOrdered(t, text.String())

	// The pcap files hold the same packets, and tcpdump agrees on them.
	for _, f := range []struct {
		path, node, iface string
	}{{pcapA, "a", "veth0"}, {pcapB, "b", "veth1"}} {
		kept := Select(all, AnyPacket().On(f.node, f.iface))
		back, err := ReadPcap(f.path, f.node, f.iface)
		require.NoError(t, err)
		require.Len(t, back, len(kept))
		for i := range back {
			assert.Equal(t, kept[i].Data, back[i].Data)
			assert.True(t, kept[i].Time.Equal(back[i].Time), "nanosecond timestamps survive")
			assert.Equal(t, Format(&kept[i]), Format(&back[i]))
		}
		compareWithTcpdump(t, f.path, back)
	}
}

// compareWithTcpdump checks that tcpdump reads the file and prints, for
// every IPv4 and ARP packet, what Format prints (VRRP against -v).
func compareWithTcpdump(t *testing.T, path string, packets []Packet) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Log("tcpdump not installed: pcap not checked with it")
		return
	}
	plain := tcpdumpLines(t, tcpdump, "-n", "-S", "-t", "-r", path)
	require.Len(t, plain, len(packets))
	verbose := strings.Join(tcpdumpLines(t, tcpdump, "-n", "-S", "-t", "-v", "-r", path), "\n")
	for i := range packets {
		p := &packets[i]
		got := strings.TrimSuffix(Format(p), " (gratuitous)")
		switch {
		case p.VRRP != nil:
			assert.Contains(t, verbose, strings.TrimPrefix(got, "IP "))
		case p.ARP != nil || (p.IP != nil && p.IP.Version == 4):
			assert.Equal(t, plain[i], got)
		default: // IPv6 neighbour discovery and MLD noise: only the start
			assert.True(t, strings.HasPrefix(plain[i], strings.SplitN(got, ":", 2)[0]), "%q vs %q", plain[i], got)
		}
	}
}

func assertTimeOrdered(t *testing.T, text string) {
	t.Helper()
	prev := ""
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 3, l)
		assert.GreaterOrEqual(t, f[1], prev, "lines in time order: %s", l)
		prev = f[1]
	}
}

// TestTrace runs the live trace over both ends with a filter while pings
// run, and checks the printed lines.
func TestTrace(t *testing.T) {
	v := newVethNet(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	type result struct {
		stats []Stats
		err   error
	}
	done := make(chan result, 1)
	specs := []Spec{
		{Node: "a", Iface: "veth0", NetNS: v.pathA},
		{Node: "b", Iface: "veth1", NetNS: v.pathB},
	}
	started := make(chan struct{})
	go func() {
		st, err := Trace(ctx, &out, specs, TraceOptions{
			Filter:  MustParseFilter("icmp and host 10.77.0.1"),
			Started: func() { close(started) },
		})
		done <- result{st, err}
	}()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("Trace failed to start: %v", r.err)
	}
	for seq := 1; seq <= 3; seq++ {
		require.NoError(t, ping(v.nsA, v.addrB, 9, seq))
	}
	time.Sleep(300 * time.Millisecond)
	// Non-matching traffic after the pings.
	require.NoError(t, sendFrame(v.nsA, v.ifA, arpPacket(t, ARPRequest, v.macA, v.addrA, zeroHW, v.addrB)))
	time.Sleep(100 * time.Millisecond)
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Trace did not return after its context ended")
	}
	require.NoError(t, r.err)
	require.Len(t, r.stats, 2)
	text := out.String()
	assert.NotContains(t, text, "ARP")
	assert.Regexp(t, `(?m)^a:veth0 \S+ IP 10\.77\.0\.1 > 10\.77\.0\.2: ICMP echo request, id \d+, seq 3, length 26$`, text)
	assert.Regexp(t, `(?m)^b:veth1 \S+ IP 10\.77\.0\.2 > 10\.77\.0\.1: ICMP echo reply, id \d+, seq 3, length 26$`, text)
	assert.Equal(t, 12, strings.Count(text, "\n"), "3 requests and 3 replies seen on each end:\n%s", text)
	assertTimeOrdered(t, text)
	for _, st := range r.stats {
		assert.Contains(t, FormatStats(st), "packets captured on ")
		assert.Zero(t, st.Dropped)
	}
}

// TestCaptureCountsDrops stalls a capture's consumer while a bounded burst
// overflows a small ring: the kernel's drops must show in Stats and in
// Stop's error.
func TestCaptureCountsDrops(t *testing.T) {
	v := newVethNet(t)
	out := make(chan Packet)
	c, err := Start(context.Background(), Spec{Node: "b", Iface: "veth1", NetNS: v.pathB, RingSize: 1, Discard: true, Out: out})
	require.NoError(t, err)
	ul, err := udpListener(v.nsB, "10.77.0.2:6000")
	require.NoError(t, err)
	defer ul.Close()
	uc, err := udpConn(v.nsA, "10.77.0.2:6000")
	require.NoError(t, err)
	defer uc.Close()
	const burst = 30000 // the 1 MiB ring holds far fewer small frames
	payload := make([]byte, 64)
	for range burst {
		_, err := uc.Write(payload)
		require.NoError(t, err)
	}
	// Now let the consumer run and drain.
	go func() {
		for range out {
		}
	}()
	time.Sleep(200 * time.Millisecond)
	st, err := c.Stop()
	close(out)
	var de *DropError
	require.ErrorAs(t, err, &de)
	assert.Positive(t, st.Dropped)
	assert.GreaterOrEqual(t, st.Captured+st.Dropped, uint64(burst))
	assert.Contains(t, err.Error(), "packets dropped by kernel")
	t.Logf("%s", FormatStats(st))
}

func TestStartErrors(t *testing.T) {
	_, err := Start(context.Background(), Spec{Node: "x"})
	assert.ErrorContains(t, err, "no interface")
	_, err = Start(context.Background(), Spec{Node: "x", Iface: "eth0", NetNS: "/run/netns/does-not-exist-capture"})
	assert.ErrorContains(t, err, "/run/netns/does-not-exist-capture")
	v := newVethNet(t)
	_, err = Start(context.Background(), Spec{Node: "a", Iface: "nosuch0", NetNS: v.pathA})
	assert.ErrorContains(t, err, "capture a:nosuch0")
	_ = layers.LinkTypeEthernet
}

// TestCaptureSnaplen cuts packets in the kernel and keeps their length on
// the wire, in memory and in the pcap file.
func TestCaptureSnaplen(t *testing.T) {
	v := newVethNet(t)
	path := filepath.Join(t.TempDir(), "snap.pcap")
	c, err := Start(context.Background(), Spec{Node: "b", Iface: "veth1", NetNS: v.pathB, Snaplen: 64, PcapPath: path})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = c.Stop() })
	ul, err := udpListener(v.nsB, "10.77.0.2:6000")
	require.NoError(t, err)
	defer ul.Close()
	uc, err := udpConn(v.nsA, "10.77.0.2:6000")
	require.NoError(t, err)
	defer uc.Close()
	_, err = uc.Write(make([]byte, 500))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := c.WaitFor(ctx, AnyPacket().Proto(ProtoUDP).DstPort(6000))
	require.NoError(t, err)
	assert.Len(t, p.Data, 64)
	assert.Equal(t, 14+20+8+500, p.Len)
	assert.Equal(t, "IP 10.77.0.1.36000 > 10.77.0.2.6000: UDP, length 500", strings.Replace(Format(&p), fmt.Sprintf(".%d ", p.UDP.SrcPort), ".36000 ", 1))
	_, err = c.Stop()
	require.NoError(t, err)
	back, err := ReadPcap(path, "b", "veth1")
	require.NoError(t, err)
	udp := Select(back, AnyPacket().Proto(ProtoUDP))
	require.Len(t, udp, 1)
	assert.Equal(t, p.Len, udp[0].Len)
	assert.Len(t, udp[0].Data, 64)
	compareWithTcpdump(t, path, back)
}
