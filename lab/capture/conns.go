package capture

import (
	"net/netip"
	"strings"
)

// Conn is one TCP connection of a host, as a capture saw it: its
// segments in order, from the SYN on.
type Conn struct {
	Local, Remote netip.AddrPort // from the host's side
	Segments      []Segment
}

// Segment is one TCP segment of a Conn.
type Segment struct {
	Out        bool // sent by the host
	Flags      TCPFlags
	PayloadLen int
}

// Conns returns the TCP connections of host in packets, in the order of
// their SYNs. Connections whose SYN the capture did not see are left
// out; a later connection on the same ports (a reused port) starts a new
// Conn with its own SYN.
func Conns(packets []Packet, host netip.Addr) []*Conn {
	type key struct{ local, remote netip.AddrPort }
	open := map[key]*Conn{}
	var conns []*Conn
	for _, p := range packets {
		if p.IP == nil || p.TCP == nil {
			continue
		}
		var k key
		out := p.IP.Src == host
		switch {
		case out:
			k = key{netip.AddrPortFrom(p.IP.Src, p.TCP.SrcPort), netip.AddrPortFrom(p.IP.Dst, p.TCP.DstPort)}
		case p.IP.Dst == host:
			k = key{netip.AddrPortFrom(p.IP.Dst, p.TCP.DstPort), netip.AddrPortFrom(p.IP.Src, p.TCP.SrcPort)}
		default:
			continue
		}
		c := open[k]
		if p.TCP.Flags == FlagSYN {
			c = &Conn{Local: k.local, Remote: k.remote}
			open[k] = c
			conns = append(conns, c)
		}
		if c == nil {
			continue // begun before the capture
		}
		c.Segments = append(c.Segments, Segment{Out: out, Flags: p.TCP.Flags, PayloadLen: p.TCP.PayloadLen})
	}
	return conns
}

// Flags renders the connection's segments' flags in tcpdump's notation,
// space-separated: "S S. . P. F. R.".
func (c *Conn) Flags() string {
	fs := make([]string, len(c.Segments))
	for i, s := range c.Segments {
		fs[i] = s.Flags.String()
	}
	return strings.Join(fs, " ")
}

// Sent reports whether the host sent payload on the connection.
func (c *Conn) Sent() bool {
	for _, s := range c.Segments {
		if s.Out && s.PayloadLen > 0 {
			return true
		}
	}
	return false
}

// Ended reports whether a FIN or a reset has been seen, from either side.
func (c *Conn) Ended() bool {
	for _, s := range c.Segments {
		if s.Flags&(FlagFIN|FlagRST) != 0 {
			return true
		}
	}
	return false
}

// Closing renders how the host ended its side of the connection: its
// segments that carry payload or a FIN, from its last data on, as flags
// with "+data" for payload ("P.+data F." for data then a FIN, "F.+data"
// for a FIN riding on the data), or "" when it has sent no FIN yet.
func (c *Conn) Closing() string {
	fin, data := -1, -1
	for i, s := range c.Segments {
		if !s.Out {
			continue
		}
		if s.Flags&FlagFIN != 0 && fin < 0 {
			fin = i
		}
		if s.PayloadLen > 0 && (fin < 0 || i == fin) {
			data = i
		}
	}
	if fin < 0 {
		return ""
	}
	from := fin
	if data >= 0 {
		from = data
	}
	var fs []string
	for _, s := range c.Segments[from : fin+1] {
		switch {
		case !s.Out:
		case s.PayloadLen > 0:
			fs = append(fs, s.Flags.String()+"+data")
		case s.Flags&FlagFIN != 0:
			fs = append(fs, s.Flags.String())
		}
	}
	return strings.Join(fs, " ")
}
