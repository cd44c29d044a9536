package capture

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormatCrafted(t *testing.T) {
	for _, tc := range craftedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			p := Decode(tc.data)
			assert.Empty(t, p.DecodeErr)
			assert.Equal(t, tc.want, Format(&p))
		})
	}
}

// TestFormatMatchesTcpdump writes the crafted packets to a pcap file and
// compares Format with what the installed tcpdump prints for them. VRRP
// lines are compared with `tcpdump -v` (which shows addresses and
// password); " (gratuitous)" is ours.
func TestFormatMatchesTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	cases := craftedCases(t)
	path := filepath.Join(t.TempDir(), "crafted.pcap")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	ts := time.Unix(1700000000, 0)
	for i, tc := range cases {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(tc.data), Length: len(tc.data)}
		require.NoError(t, w.WritePacket(ci, tc.data))
	}
	require.NoError(t, f.Close())

	plain := tcpdumpLines(t, tcpdump, "-n", "-S", "-t", "-r", path)
	verbose := tcpdumpLines(t, tcpdump, "-n", "-S", "-t", "-v", "-r", path)
	require.Len(t, plain, len(cases))
	var vrrpLines []string
	for _, l := range verbose {
		if strings.Contains(l, "VRRPv") {
			vrrpLines = append(vrrpLines, "IP "+strings.TrimSpace(l))
		}
	}
	for i, tc := range cases {
		want := plain[i]
		if strings.Contains(want, "VRRPv") {
			require.NotEmpty(t, vrrpLines)
			want, vrrpLines = vrrpLines[0], vrrpLines[1:]
		}
		p := Decode(tc.data)
		got := strings.TrimSuffix(Format(&p), " (gratuitous)")
		assert.Equal(t, want, got, tc.name)
	}
}

func tcpdumpLines(t *testing.T, tcpdump string, args ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(tcpdump, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), errb.String())
	var lines []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestTCPFlags(t *testing.T) {
	for _, s := range []string{"S", "S.", ".", "P.", "F.", "R", "R.", "FP.", "none"} {
		f, err := ParseTCPFlags(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, f.String())
	}
	f, err := ParseTCPFlags("[S.]")
	require.NoError(t, err)
	assert.Equal(t, FlagSYN|FlagACK, f)
	for _, s := range []string{"", "SS", "X", "S,"} {
		_, err := ParseTCPFlags(s)
		assert.Error(t, err, s)
	}
}

func TestFormatLine(t *testing.T) {
	p := Decode(craftedCases(t)[0].data)
	p.Node, p.Iface = "nginx01", "eth0"
	p.Time = time.Date(2024, 1, 2, 3, 4, 5, 6000, time.Local)
	assert.Equal(t, "nginx01:eth0 03:04:05.000006 ARP, Request who-has 10.0.1.3 tell 10.0.1.2, length 46", FormatLine(&p))
}

func TestDecodeFields(t *testing.T) {
	p := Decode(vrrpPacket(t, ipA, &VRRP{Version: 2, VRID: 111, Priority: 95, AuthType: VRRPAuthSimple, Interval: time.Second, Addrs: []netip.Addr{ipVIP}, Auth: []byte("Security")}))
	require.NotNil(t, p.VRRP)
	assert.Equal(t, uint8(111), p.VRRP.VRID)
	assert.Equal(t, uint8(95), p.VRRP.Priority)
	assert.True(t, p.VRRP.ChecksumOK)
	assert.Equal(t, "Security", p.VRRP.AuthString())
	assert.Equal(t, macV, p.SrcMAC)
	assert.Equal(t, ipA, p.Src())
	assert.True(t, p.Is(ProtoVRRP))
	assert.True(t, p.Is(ProtoIP))

	p = Decode(arpPacket(t, ARPRequest, macV, ipVIP, zeroHW, ipVIP))
	require.NotNil(t, p.ARP)
	assert.True(t, p.ARP.Gratuitous())

	data := vrrpPacket(t, ipB, &VRRP{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{ipVIP}})
	data[14+20+6] ^= 0xff // break the checksum
	p = Decode(data)
	require.NotNil(t, p.VRRP)
	assert.False(t, p.VRRP.ChecksumOK)
	assert.Contains(t, Format(&p), "(bad vrrp cksum")
}
