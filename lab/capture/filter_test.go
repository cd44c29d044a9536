package capture

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterMatch(t *testing.T) {
	cases := map[string][]byte{}
	for _, c := range craftedCases(t) {
		cases[c.name] = c.data
	}
	tests := []struct {
		expr string
		want []string // crafted case names that match; others must not
	}{
		{"vrrp", []string{"vrrpv2 simple auth", "vrrpv2 two addresses", "vrrpv2 resign", "vrrpv3", "vrrpv3 one address"}},
		{"arp", []string{"arp request", "arp reply", "arp request with target mac", "gratuitous arp request", "gratuitous arp reply"}},
		{"icmp", []string{"icmp echo request", "icmp echo reply", "icmp port unreachable", "icmp host unreachable", "icmp time exceeded"}},
		{"udp", []string{"udp"}},
		{"tcp port 80", []string{"http request"}},
		{"tcp and dst port 80", []string{"http request"}},
		{"src port 8080", []string{"http response"}},
		{"port 5000 or port 8080", []string{"udp", "http response"}},
		{"host 10.0.1.100", []string{"gratuitous arp request", "gratuitous arp reply"}},
		{"arp and not host 10.0.1.100", []string{"arp request", "arp reply", "arp request with target mac"}},
		{"src host 10.0.1.3 and (vrrp || icmp)", []string{"icmp echo reply", "vrrpv3", "vrrpv3 one address"}},
		{"!tcp && !arp && !vrrp && !icmp", []string{"udp"}},
		{"dst host 224.0.0.18 and not vrrp", nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := ParseFilter(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.expr, f.String())
			var got []string
			for _, c := range craftedCases(t) {
				p := Decode(c.data)
				if f.Match(&p) {
					got = append(got, c.name)
				}
			}
			assert.ElementsMatch(t, tt.want, got)
		})
	}
	var zero Filter
	p := Decode(cases["udp"])
	assert.True(t, zero.Match(&p))
	empty, err := ParseFilter("  ")
	require.NoError(t, err)
	assert.True(t, empty.Match(&p))
}

func TestFilterErrors(t *testing.T) {
	tests := []struct{ expr, msg string }{
		{"vrp", `filter "vrp": at offset 0: unknown word "vrp": want vrrp, arp, tcp, udp, icmp, ip, ip6, host, port, src, dst, and, or, not`},
		{"tcp and", `filter "tcp and": at offset 7: expression ends early: want a protocol, host, port, not or (`},
		{"host", `filter "host": at offset 4: "host" needs an IP address`},
		{"host 10.0.1", `filter "host 10.0.1": at offset 5: "10.0.1" after "host" is not an IP address`},
		{"port abc", `filter "port abc": at offset 5: "abc" after "port" is not a port number (0-65535)`},
		{"port 70000", `filter "port 70000": at offset 5: "70000" after "port" is not a port number (0-65535)`},
		{"(tcp or udp", `filter "(tcp or udp": at offset 11: missing ")"`},
		{"tcp)", `filter "tcp)": at offset 3: unbalanced ")"`},
		{"or tcp", `filter "or tcp": at offset 0: "or" needs an expression before it`},
		{"src tcp", `filter "src tcp": at offset 4: "src" needs host or port after it, got "tcp"`},
		{"not", `filter "not": at offset 3: expression ends early: want a protocol, host, port, not or (`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseFilter(tt.expr)
			require.Error(t, err)
			var fe *FilterError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.msg, err.Error())
		})
	}
	assert.Panics(t, func() { MustParseFilter("bogus") })
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"vrrp", "arp or icmp", "tcp and port 80 and not host 10.0.1.10", "(vrrp or arp) and src host 10.0.1.2", "!tcp&&udp||(icmp)", "port", "((", "host ::1"} {
		f.Add(s)
	}
	var pkts []Packet
	for _, c := range craftedCases(f) {
		pkts = append(pkts, Decode(c.data))
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr)
		if err != nil {
			return
		}
		for i := range pkts {
			_ = flt.Match(&pkts[i])
		}
	})
}
