package l4

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadArticleConfig(t *testing.T) {
	cfg, err := LoadConfig("testdata/article.conf")
	require.NoError(t, err)
	require.Empty(t, cfg.Warnings, "vrrp_instance blocks are vrrpd's, ignored silently")
	require.Len(t, cfg.Services, 1)
	vs := cfg.Services[0]
	assert.Equal(t, "testdata/article.conf:29", vs.Pos)
	assert.Equal(t, ap("10.0.1.100:80"), vs.VIP)
	assert.Equal(t, AlgoRR, vs.Algo)
	assert.Zero(t, vs.Persistence)
	assert.False(t, vs.Sorry.IsValid())
	require.Len(t, vs.Reals, 2)
	for i, want := range []string{"10.0.2.11:80", "10.0.2.12:80"} {
		rs := vs.Reals[i]
		assert.Equal(t, ap(want), rs.Addr)
		assert.Equal(t, 1, rs.Weight)
		require.Len(t, rs.Checks, 1)
		ck := rs.Checks[0]
		assert.Equal(t, Check{Pos: ck.Pos, Kind: "TCP_CHECK", Target: ap(want), ConnectTimeout: 10 * time.Second,
			Retry: 1, DelayBeforeRetry: time.Second, DelayLoop: 6 * time.Second, Warmup: 6 * time.Second}, *ck)
	}
	assert.Equal(t, ServiceSpec{VIP: ap("10.0.1.100:80"), Algo: AlgoRR,
		Reals: []netip.AddrPort{ap("10.0.2.11:80"), ap("10.0.2.12:80")}}, vs.Spec())
}

func TestParseConfigFull(t *testing.T) {
	const conf = `global_defs { router_id lb1 }
virtual_server 10.0.0.100 80 {
    delay_loop 2
    lvs_sched wrr
    lvs_method NAT
    protocol TCP
    persistence_timeout 50
    sorry_server 10.0.3.5 8080
    connect_timeout 3
    retry 4
    virtualhost www.example.com
    real_server 10.0.2.11 8080 {
        weight 3
        HTTP_GET {
            url {
                path /health
                status_code 200 300-302
            }
            url {
                path /ready
                digest 9B3A0C85A887A256D6939DA88AABD8CD
            }
            nb_get_retry 2
        }
        TCP_CHECK {
            connect_port 8081
            delay_before_retry 0.5
            warmup 0
        }
    }
    real_server 10.0.2.12 {
        weight 0
        alpha
        notify_up /bin/true
    }
}
virtual_server 10.0.0.100 443 {
    lb_algo sh
    lb_kind nat
    protocol tcp
    persistence_timeout
    sorry_server 10.0.3.5
}
`
	cfg, err := ParseConfig("k.conf", []byte(conf))
	require.NoError(t, err)
	assert.Equal(t, []string{"k.conf:34: notify_up has no effect in lbd"}, cfg.Warnings)
	require.Len(t, cfg.Services, 2)
	vs := cfg.Services[0]
	assert.Equal(t, AlgoWRR, vs.Algo)
	assert.Equal(t, 50*time.Second, vs.Persistence)
	assert.Equal(t, ap("10.0.3.5:8080"), vs.Sorry)
	require.Len(t, vs.Reals, 2)
	rs := vs.Reals[0]
	assert.Equal(t, 3, rs.Weight)
	assert.False(t, rs.Alpha)
	require.Len(t, rs.Checks, 2)
	h := rs.Checks[0]
	assert.Equal(t, "HTTP_GET", h.Kind)
	assert.Equal(t, ap("10.0.2.11:8080"), h.Target)
	assert.Equal(t, 3*time.Second, h.ConnectTimeout, "inherited from virtual_server")
	assert.Equal(t, 2, h.Retry, "nb_get_retry overrides the inherited retry")
	assert.Equal(t, 3*time.Second, h.DelayBeforeRetry, "HTTP_GET default")
	assert.Equal(t, 2*time.Second, h.DelayLoop)
	assert.Equal(t, "www.example.com", h.VirtualHost)
	require.Len(t, h.URLs, 2)
	assert.Equal(t, []StatusRange{{200, 200}, {300, 302}}, h.URLs[0].StatusCodes)
	assert.True(t, h.URLs[0].Match(301))
	assert.False(t, h.URLs[0].Match(204))
	assert.Equal(t, []StatusRange{{200, 299}}, h.URLs[1].StatusCodes)
	assert.Equal(t, "9b3a0c85a887a256d6939da88aabd8cd", h.URLs[1].Digest)
	tc := rs.Checks[1]
	assert.Equal(t, ap("10.0.2.11:8081"), tc.Target)
	assert.Equal(t, 4, tc.Retry)
	assert.Equal(t, 500*time.Millisecond, tc.DelayBeforeRetry)
	assert.Zero(t, tc.Warmup)

	rs2 := vs.Reals[1]
	assert.Equal(t, ap("10.0.2.12:80"), rs2.Addr, "port defaults to the virtual server's")
	assert.Equal(t, 0, rs2.Weight)
	assert.True(t, rs2.Alpha)
	assert.Empty(t, rs2.Checks)

	vs2 := cfg.Services[1]
	assert.Equal(t, AlgoSH, vs2.Algo)
	assert.Equal(t, DefaultPersistence, vs2.Persistence)
	assert.Equal(t, ap("10.0.3.5:443"), vs2.Sorry)
	assert.Empty(t, vs2.Reals)
}

func TestParseConfigErrors(t *testing.T) {
	vs := func(body string) string {
		return "vrrp_instance x {\n}\nvirtual_server 10.0.0.100 80 {\n" + body + "}\n"
	}
	base := "lb_algo rr\nprotocol TCP\n"
	tests := []struct{ name, conf, want string }{
		{"DR", vs(base + "lb_kind DR\n"), "c.conf:6: lb_kind DR is not supported by lbd (NAT only"},
		{"TUN", vs(base + "lvs_method TUN type ipip\n"), "c.conf:6: lvs_method TUN is not supported"},
		{"rs DR", vs(base + "real_server 10.0.2.11 80 {\nlb_kind DR\n}\n"), "c.conf:7: lb_kind DR is not supported"},
		{"lc", vs("lb_algo lc\nprotocol TCP\n"), "c.conf:4: lb_algo lc is not supported by lbd: it needs the live connection count"},
		{"unknown algo", vs("lb_algo xx\nprotocol TCP\n"), "c.conf:4: lb_algo xx is not supported"},
		{"no algo", vs("protocol TCP\n"), "c.conf:3: virtual_server 10.0.0.100:80 has no lb_algo: keepalived's default wlc"},
		{"no protocol", vs("lb_algo rr\n"), "c.conf:3: virtual_server 10.0.0.100:80 has no protocol: keepalived then defaults to UDP"},
		{"udp", vs("lb_algo rr\nprotocol UDP\n"), "c.conf:5: protocol UDP is not supported by lbd (TCP only)"},
		{"bad vip", "virtual_server 10.0.0.300 80 {\n}\n", "c.conf:1: invalid IP address '10.0.0.300'"},
		{"ipv6", "virtual_server ::1 80 {\n}\n", "c.conf:1: ::1: lbd supports IPv4 addresses only"},
		{"bad port", "virtual_server 10.0.0.1 0 {\n}\n", "c.conf:1: invalid port '0'"},
		{"no port", "virtual_server 10.0.0.1 {\n}\n", "c.conf:1: virtual_server needs ADDR PORT"},
		{"fwmark", "virtual_server fwmark 1 {\n}\n", "c.conf:1: virtual_server fwmark is not supported"},
		{"group", "virtual_server_group g {\n}\n", "c.conf:1: virtual_server_group is not supported"},
		{"weight", vs(base + "real_server 10.0.2.11 80 {\nweight abc\n}\n"), "c.conf:7: weight: invalid number 'abc'"},
		{"weight range", vs(base + "real_server 10.0.2.11 80 {\nweight -1\n}\n"), "c.conf:7: weight -1 is outside range 0-2147483647"},
		{"timeout", vs(base + "real_server 10.0.2.11 80 {\nTCP_CHECK {\nconnect_timeout x\n}\n}\n"), "c.conf:8: connect_timeout: invalid time 'x'"},
		{"zero timeout", vs(base + "connect_timeout 0\n"), "c.conf:6: connect_timeout 0 is out of range"},
		{"delay_loop", vs(base + "delay_loop -1\n"), "c.conf:6: delay_loop -1 is out of range"},
		{"misc", vs(base + "real_server 10.0.2.11 80 {\nMISC_CHECK {\n}\n}\n"), "c.conf:7: MISC_CHECK is not supported by lbd"},
		{"no url", vs(base + "real_server 10.0.2.11 80 {\nHTTP_GET {\n}\n}\n"), "c.conf:7: HTTP_GET needs at least one url block"},
		{"url path", vs(base + "real_server 10.0.2.11 80 {\nHTTP_GET {\nurl {\nstatus_code 200\n}\n}\n}\n"), "c.conf:8: url has no path"},
		{"status", vs(base + "real_server 10.0.2.11 80 {\nHTTP_GET {\nurl {\npath /\nstatus_code 299-200\n}\n}\n}\n"), "c.conf:10: invalid status_code '299-200'"},
		{"digest", vs(base + "real_server 10.0.2.11 80 {\nHTTP_GET {\nurl {\npath /\ndigest xyz\n}\n}\n}\n"), "c.conf:10: digest \"xyz\" is not an MD5"},
		{"regex", vs(base + "real_server 10.0.2.11 80 {\nHTTP_GET {\nurl {\npath /\nregex ok\n}\n}\n}\n"), "c.conf:10: regex is not supported"},
		{"dup rs", vs(base + "real_server 10.0.2.11 80 {\n}\nreal_server 10.0.2.11 80 {\n}\n"), "c.conf:8: real_server 10.0.2.11:80 already defined at c.conf:6"},
		{"dup vs", vs(base) + vs(base), "c.conf:9: virtual_server 10.0.0.100:80 already defined at c.conf:3"},
		{"sorry", vs(base + "sorry_server 10.0.3.5 99999\n"), "c.conf:6: invalid port '99999'"},
		{"persistence", vs(base + "persistence_timeout 0\n"), "c.conf:6: persistence_timeout 0 is outside range"},
		{"granularity", vs(base + "persistence_granularity 255.255.255.0\n"), "c.conf:6: persistence_granularity is not supported"},
		{"alpha", vs(base + "alpha maybe\n"), "c.conf:6: alpha: invalid boolean 'maybe'"},
		{"connect_port", vs(base + "real_server 10.0.2.11 80 {\nTCP_CHECK {\nconnect_port 70000\n}\n}\n"), "c.conf:8: connect_port 70000 is outside range 1-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.conf", []byte(tt.conf))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseConfigWarnings(t *testing.T) {
	conf := "virtual_server 10.0.0.100 80 {\nlb_algo rr\nprotocol TCP\nbogus_kw 3\nreal_server 10.0.2.11 80 {\nTCP_CHECK {\nfrob 1\n}\n}\n}\n"
	cfg, err := ParseConfig("w.conf", []byte(conf))
	require.NoError(t, err)
	assert.Equal(t, []string{
		"w.conf:4: unknown keyword 'bogus_kw' in virtual_server",
		"w.conf:7: unknown keyword 'frob' in TCP_CHECK",
	}, cfg.Warnings)
}

func TestLoadConfigInclude(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.conf"), []byte("include lvs/*.conf\n"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "lvs"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lvs", "web.conf"),
		[]byte("virtual_server 10.0.0.100 80 {\nlb_algo rr\nprotocol TCP\nlb_kind DR\n}\n"), 0o600))
	_, err := LoadConfig(filepath.Join(dir, "main.conf"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "lvs", "web.conf")+":4: lb_kind DR")
}

func FuzzParseConfig(f *testing.F) {
	seed, err := os.ReadFile("testdata/article.conf")
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte("virtual_server 10.0.0.1 80 {\nlb_algo wrr\nprotocol TCP\npersistence_timeout\nsorry_server 10.0.0.2\n" +
		"real_server 10.0.0.3 {\nweight 2\nHTTP_GET {\nurl {\npath /\nstatus_code 200-299 301\n}\n}\n}\n}\n"))
	f.Add([]byte("virtual_server 10.0.0.1 80 { lb_algo sh\n protocol tcp\n real_server 10.0.0.3 81 { TCP_CHECK { connect_timeout 0.5 } } }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.conf", data)
		if err != nil {
			return
		}
		for _, vs := range cfg.Services {
			require.True(t, vs.VIP.IsValid())
			require.Contains(t, []Algo{AlgoRR, AlgoWRR, AlgoSH}, vs.Algo)
			for _, rs := range vs.Reals {
				require.GreaterOrEqual(t, rs.Weight, 0)
				for _, ck := range rs.Checks {
					require.Positive(t, ck.ConnectTimeout)
					require.Positive(t, ck.DelayLoop)
					require.GreaterOrEqual(t, ck.Retry, 0)
					if ck.Kind == checkKindHTTP {
						require.NotEmpty(t, ck.URLs)
					}
				}
			}
			_ = Slots(vs.Algo, nil)
		}
	})
}
