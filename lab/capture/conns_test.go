package capture

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seg is a TCP packet from src to dst for the Conns tests.
func seg(src, dst string, flags TCPFlags, payload int) Packet {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	return Packet{
		IP:  &IP{Version: 4, Src: s.Addr(), Dst: d.Addr(), Proto: 6},
		TCP: &TCP{SrcPort: s.Port(), DstPort: d.Port(), Flags: flags, PayloadLen: payload},
	}
}

func TestConns(t *testing.T) {
	const (
		lb     = "10.0.1.31:8080"
		client = "10.0.1.10:40000"
		server = "10.0.2.11:80"
		check  = "10.0.2.31:50000"
	)
	ack, psh, fin, syn, rst := FlagACK, FlagPSH|FlagACK, FlagFIN|FlagACK, FlagSYN, FlagRST|FlagACK
	packets := []Packet{
		seg(client, lb, ack, 0), // begun before the capture: left out
		seg(client, lb, syn, 0),
		seg(lb, client, syn|ack, 0),
		seg(client, lb, ack, 0),
		seg(check, server, syn, 0), // not the lb's front address: left out
		seg(client, lb, psh, 80),
		seg(lb, client, psh, 200),
		seg(lb, client, fin, 0),
		seg(client, lb, ack, 0),
		seg(client, lb, fin, 0),
		seg(lb, client, ack, 0),
		seg("10.0.1.99:1", "10.0.1.98:2", syn, 0), // another host's
		// the same ports again: a new connection, data and FIN together
		seg(client, lb, syn, 0),
		seg(lb, client, syn|ack, 0),
		seg(client, lb, psh, 80),
		seg(lb, client, ack, 1448), // a full segment, then the tail with the FIN
		seg(lb, client, fin, 200),
		seg(client, lb, rst, 0),
	}
	conns := Conns(packets, netip.MustParseAddr("10.0.1.31"))
	require.Len(t, conns, 2)
	c := conns[0]
	assert.Equal(t, netip.MustParseAddrPort(lb), c.Local)
	assert.Equal(t, netip.MustParseAddrPort(client), c.Remote)
	assert.Equal(t, "S S. . P. P. F. . F. .", c.Flags())
	assert.True(t, c.Sent())
	assert.True(t, c.Ended())
	assert.Equal(t, "P.+data F.", c.Closing())
	assert.Equal(t, Segment{Out: true, Flags: psh, PayloadLen: 200}, c.Segments[4])

	c = conns[1]
	assert.Equal(t, "S S. P. . F. R.", c.Flags())
	assert.Equal(t, "F.+data", c.Closing())

	// before the FIN: not ended, no closing
	open := Conns(packets[:7], netip.MustParseAddr("10.0.1.31"))
	require.Len(t, open, 1)
	assert.False(t, open[0].Ended())
	assert.Equal(t, "", open[0].Closing())
	// a check: no payload from the host, ended by its reset
	ck := Conns([]Packet{seg(check, server, syn, 0), seg(server, check, syn|ack, 0), seg(check, server, rst, 0)}, netip.MustParseAddr("10.0.2.31"))
	require.Len(t, ck, 1)
	assert.Equal(t, "S S. R.", ck[0].Flags())
	assert.False(t, ck[0].Sent())
	assert.True(t, ck[0].Ended())
	assert.Equal(t, "", ck[0].Closing())
}
