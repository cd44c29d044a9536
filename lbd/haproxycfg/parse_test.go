package haproxycfg

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const defaultsHTTP = "defaults\nmode http\ntimeout connect 5s\ntimeout client 30s\ntimeout server 30s\n"

func parseString(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse([]Source{{Name: "t.cfg", Data: []byte(text)}}, nil)
}

func TestArticleConfig(t *testing.T) {
	cfg, err := LoadFiles([]string{"testdata/article.cfg"})
	require.NoError(t, err)
	fe := cfg.Proxy("HTTP-Service", CapFrontend)
	require.NotNil(t, fe)
	require.Len(t, fe.Binds, 1)
	assert.Equal(t, Bind{Pos: fe.Pos, Addr: "*:8080", Host: "", Port: 8080}, fe.Binds[0])
	assert.Equal(t, ModeHTTP, fe.Mode)
	assert.Equal(t, "HTTP-Service", fe.DefaultBackend)
	require.NotNil(t, fe.ForwardFor)
	assert.Equal(t, "127.0.0.0/8", fe.ForwardFor.Except.String())

	be := cfg.Proxy("HTTP-Service", CapBackend)
	require.NotNil(t, be)
	assert.NotSame(t, fe, be)
	assert.Equal(t, "roundrobin", be.Balance.Algo)
	assert.True(t, be.TCPCheck)
	assert.True(t, be.Redispatch)
	assert.Equal(t, 3, be.Retries)
	assert.Equal(t, 10*time.Second, be.Timeouts.Connect)
	assert.Equal(t, time.Minute, be.Timeouts.Server)
	require.NotNil(t, be.Cookie)
	assert.Equal(t, Cookie{Pos: be.Cookie.Pos, Name: "JSESSIONID", Mode: CookiePrefix, NoCache: true}, *be.Cookie)
	require.Len(t, be.HTTPResponse, 2)
	assert.Equal(t, "replace-value", be.HTTPResponse[0].Action)
	assert.Equal(t, "Set-Cookie", be.HTTPResponse[0].Name)
	assert.Equal(t, `(.*)`, be.HTTPResponse[0].Regexp.String())
	assert.Equal(t, `\1; HttpOnly;`, be.HTTPResponse[0].Value)
	assert.Equal(t, `\1; Secure`, be.HTTPResponse[1].Value)
	require.Len(t, be.Servers, 2)
	s := be.Servers[0]
	assert.Equal(t, "App01", s.Name)
	assert.Equal(t, "10.0.2.11", s.Host)
	assert.Equal(t, 80, s.Port)
	assert.True(t, s.Check)
	assert.Equal(t, 80, s.CheckPort)
	assert.Equal(t, "app01", s.Cookie)
	assert.Equal(t, 100, s.Weight)
	assert.Equal(t, 2*time.Second, s.Inter)
	assert.Equal(t, 2, s.Rise)
	assert.Equal(t, 3, s.Fall)
	assert.Equal(t, "/var/run/haproxy.pid", cfg.Global.PIDFile)
	assert.True(t, cfg.Global.Daemon)
}

func TestParseFeatures(t *testing.T) {
	cfg, err := parseString(t, defaultsHTTP+`
frontend fe
  bind 127.0.0.1:8080,127.0.0.2:8081
  bind :8443
  acl host_x hdr(host) -i x.example.com
  acl static path_beg /static /img
  acl lan src 10.0.0.0/8 192.168.1.1
  use_backend be2 if host_x !lan || static
  use_backend be2 unless { path_beg /api }
  http-request use-service prometheus-exporter if { path /metrics }
  http-request set-header X-A "a b"
  http-request del-header X-B
  default_backend be
backend be
  balance leastconn
  cookie SRV insert indirect nocache httponly secure domain .x.com
  option httpchk GET /health
  http-check expect status 200
  server s1 127.0.0.1:9001 check inter 500ms rise 1 fall 2 weight 3 cookie a backup
  server s2 127.0.0.1:9002 disabled pool-max-conn 10 pool-low-conn 2 pool-purge-delay 1s
backend be2
  balance source
  option httpchk
  http-check expect ! rstring ^down
  server s1 127.0.0.1
listen st
  bind 127.0.0.1:9999
  stats enable
  stats uri /stats
`)
	require.NoError(t, err)
	fe := cfg.Proxy("fe", CapFrontend)
	require.Len(t, fe.Binds, 3)
	assert.Equal(t, 8081, fe.Binds[1].Port)
	assert.Equal(t, "", fe.Binds[2].Host)
	require.Len(t, fe.UseBackends, 2)
	c := fe.UseBackends[0].Cond
	require.Len(t, c.Or, 2)
	require.Len(t, c.Or[0], 2)
	assert.True(t, c.Or[0][1].Neg)
	assert.Equal(t, "src", c.Or[0][1].ACL.Fetch)
	assert.Len(t, c.Or[0][1].ACL.Nets, 2)
	assert.True(t, fe.UseBackends[1].Cond.Unless)
	assert.Equal(t, "beg", fe.UseBackends[1].Cond.Or[0][0].ACL.Match)
	require.Len(t, fe.Services, 1)
	assert.Equal(t, "prometheus-exporter", fe.Services[0].Service)
	assert.Equal(t, "a b", fe.HTTPRequest[1].Value)
	be := cfg.Proxy("be", CapBackend)
	assert.Equal(t, "leastconn", be.Balance.Algo)
	assert.Equal(t, CookieInsert, be.Cookie.Mode)
	assert.True(t, be.Cookie.Indirect && be.Cookie.NoCache && be.Cookie.HTTPOnly && be.Cookie.Secure)
	assert.Equal(t, "GET", be.HTTPCheck.Method)
	assert.Equal(t, "/health", be.HTTPCheck.URI)
	assert.Equal(t, "status", be.HTTPCheck.Expect.Kind)
	assert.Equal(t, 500*time.Millisecond, be.Servers[0].Inter)
	assert.True(t, be.Servers[0].Backup)
	assert.True(t, be.Servers[1].Disabled)
	assert.Equal(t, []int{-1, 0}, []int{be.Servers[0].PoolMaxConn, be.Servers[0].PoolLowConn}, "defaults")
	assert.Equal(t, 5*time.Second, be.Servers[0].PoolPurgeDelay, "default")
	assert.Equal(t, []int{10, 2}, []int{be.Servers[1].PoolMaxConn, be.Servers[1].PoolLowConn})
	assert.Equal(t, time.Second, be.Servers[1].PoolPurgeDelay)
	be2 := cfg.Proxy("be2", CapBackend)
	assert.Equal(t, "OPTIONS", be2.HTTPCheck.Method)
	assert.True(t, be2.HTTPCheck.Expect.Negate)
	assert.Equal(t, 0, be2.Servers[0].Port)
	st := cfg.Proxy("st", CapListen)
	assert.Equal(t, "/stats", st.Stats.URI)
}

// TestParseErrors checks the wording against what haproxy 2.6 prints for
// the same input (recorded by hand from `haproxy -c`).
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"quote", "frontend f\nbind 127.0.0.1:1 \"abc\n", "parsing [t.cfg:2] : unmatched quote at position 18:"},
		{"unknown kw", "frontend f\nbind 127.0.0.1:1\nfrobnicate 1\n", "parsing [t.cfg:3] : unknown keyword 'frobnicate' in 'frontend' section"},
		{"no backend", "frontend f\nbind 127.0.0.1:1\ndefault_backend nope\n", "Proxy 'f': unable to find required default_backend: 'nope'."},
		{"bad port", "backend b\nserver s 1.2.3:x\n", "[t.cfg:2] : 'server b/s' : invalid character 'x' in port number 'x' in '1.2.3:x'"},
		{"weight", "backend b\nserver s 127.0.0.1:2 weight 300\n", "[t.cfg:2] : 'server b/s' : weight of server s is not within 0 and 256 (300).."},
		{"balance", "backend b\nbalance foo\n", "parsing [t.cfg:2] : balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options."},
		{"server kw", "backend b\nserver s 127.0.0.1:2 bogus\n", "[t.cfg:2] : 'server b/s' : unknown keyword 'bogus'."},
		{"pool-max-conn", "backend b\nserver s 127.0.0.1:2 pool-max-conn -2\n", "[t.cfg:2] : 'server b/s' : 'pool-max-conn' must be >= -1."},
		{"pool-purge-delay", "backend b\nserver s 127.0.0.1:2 pool-purge-delay 5q\n", "[t.cfg:2] : 'server b/s' : unexpected character 'q' in argument to <pool-purge-delay>.."},
		{"pool-low-conn", "backend b\nserver s 127.0.0.1:2 pool-low-conn\n", "[t.cfg:2] : 'server b/s' : 'pool-low-conn' expects <value> as argument.."},
		{"out of section", "bind 127.0.0.1:1\n", "parsing [t.cfg:1] : unknown keyword 'bind' out of section."},
		{"cookie", "backend b\ncookie\n", "parsing [t.cfg:2] : 'cookie' expects <cookie_name> as argument."},
		{"dup server", "backend b\nserver s 127.0.0.1:2\nserver s 127.0.0.1:3\n", "parsing [t.cfg:3] : backend 'b', another server named 's' was already defined at line 2, please use distinct names."},
		{"no acl", "frontend f\nbind 127.0.0.1:1\nuse_backend b if missing\nbackend b\n", "parsing [t.cfg:3] : error detected while parsing switching rule : no such ACL : 'missing'."},
		{"timeout", "backend b\ntimeout server 5q\n", "parsing [t.cfg:2] : unexpected character 'q' in 'timeout server'"},
		{"mode", "backend b\nmode foo\n", "parsing [t.cfg:2] : unknown proxy mode 'foo'."},
		{"dup proxy", "backend b\nbackend b\n", "parsing [t.cfg:2] : backend 'b' has the same name as backend 'b' declared at t.cfg:1."},
		{"replace-value args", "backend b\nhttp-response replace-value Set-Cookie\n", "parsing [t.cfg:2] : error detected in backend 'b' while parsing 'http-response replace-value' rule : expects exactly 3 arguments."},
		{"server in frontend", "frontend f\nbind 127.0.0.1:1\nserver s 127.0.0.1:2\n", "parsing [t.cfg:3] : 'server' not allowed because frontend 'f' has no backend capability."},
		{"global", "global\nfoo bar\n", "parsing [t.cfg:2] : unknown keyword 'foo' in 'global' section"},
		{"bind port", "frontend f\nbind 127.0.0.1:99999\n", "parsing [t.cfg:2] : 'bind' : invalid port '99999'"},
		{"http-reuse", "backend b\nhttp-reuse bogus\n", "parsing [t.cfg:2] : 'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'."},
		{"http-reuse bare", "backend b\nhttp-reuse\n", "parsing [t.cfg:2] : 'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'."},
		{"mode mismatch", "frontend f *:8080\nmode http\ndefault_backend b\nbackend b\nserver s 127.0.0.1:1\n",
			"http frontend 'f' (t.cfg:1) tries to use incompatible tcp backend 'b' (t.cfg:4) as its default backend (see 'mode')."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseString(t, tc.text)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLegacyAddressWarns(t *testing.T) {
	cfg, err := parseString(t, defaultsHTTP+"listen l 127.0.0.1:18080\nserver s 127.0.0.1:1\n")
	require.NoError(t, err)
	var msgs []string
	for _, w := range cfg.Warnings {
		msgs = append(msgs, w.String())
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "legacy listening address")
	assert.Equal(t, 18080, cfg.Proxies[0].Binds[0].Port)
}

func TestDefaultsInheritance(t *testing.T) {
	cfg, err := parseString(t, "defaults\nmode http\nretries 5\noption redispatch\nbackend a\nserver s 127.0.0.1:1\ndefaults\nbackend b\nserver s 127.0.0.1:1\n")
	require.NoError(t, err)
	a, b := cfg.Proxy("a", CapBackend), cfg.Proxy("b", CapBackend)
	assert.Equal(t, ModeHTTP, a.Mode)
	assert.Equal(t, 5, a.Retries)
	assert.True(t, a.Redispatch)
	assert.Equal(t, ModeTCP, b.Mode)
	assert.Equal(t, 3, b.Retries)
	assert.False(t, b.Redispatch)
}

func TestLoadFilesMissing(t *testing.T) {
	_, err := LoadFiles([]string{"testdata/nope.cfg"})
	require.Error(t, err)
	assert.Equal(t, "Cannot open configuration file/directory testdata/nope.cfg : No such file or directory", err.Error())
	_, statErr := os.Stat("testdata/nope.cfg")
	assert.True(t, os.IsNotExist(statErr))
}

func TestResolve(t *testing.T) {
	cfg, err := parseString(t, "backend b\nserver a 10.0.0.1:80\nserver n app.example:80\nserver bad nowhere.invalid:80\n")
	require.NoError(t, err)
	lookup := func(h string) ([]string, error) {
		if h == "app.example" {
			return []string{"2001:db8::1", "192.0.2.5"}, nil
		}
		return nil, assert.AnError
	}
	err = cfg.Resolve(lookup)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "[t.cfg:4] : 'server b/bad' : could not resolve address 'nowhere.invalid'.")
	assert.Contains(t, err.Error(), "Failed to initialize server(s) addr.")
	be := cfg.Proxy("b", CapBackend)
	assert.Equal(t, "10.0.0.1", be.Servers[0].IP)
	assert.Equal(t, "192.0.2.5", be.Servers[1].IP)
}

func TestLogTargets(t *testing.T) {
	cfg, err := parseString(t, "global\nlog 127.0.0.1 local2\nlog stdout format raw local0 info\nlog-tag web\n"+
		"defaults\nmode http\nlog global\noption httplog\nbackend b\nno log\nbackend c\nlog 10.0.0.1:5140 daemon\n")
	require.NoError(t, err)
	assert.Equal(t, []LogTarget{
		{Pos: Pos{"t.cfg", 2}, Addr: "127.0.0.1:514", Facility: 18, Level: 7},
		{Pos: Pos{"t.cfg", 3}, Addr: "stdout", Facility: 16, Level: 6, Raw: true},
	}, cfg.Global.Logs)
	assert.Equal(t, "web", cfg.Global.LogTag)
	b, c := cfg.Proxy("b", CapBackend), cfg.Proxy("c", CapBackend)
	assert.False(t, b.LogGlobal)
	assert.True(t, c.LogGlobal && c.HTTPLog)
	assert.Equal(t, "10.0.0.1:5140", c.Logs[0].Addr)
	_, err = parseString(t, "global\nlog /dev/log local0\n")
	assert.ErrorContains(t, err, "not supported by lbd")
	_, err = parseString(t, "global\nlog 127.0.0.1 local9\n")
	assert.ErrorContains(t, err, "unknown log facility 'local9'")
}

func TestTCPKeepAliveOptions(t *testing.T) {
	tests := []struct {
		name             string
		defaults, proxy  string
		wantCli, wantSrv bool
	}{
		{"off by default", "", "", false, false},
		{"tcpka sets both", "", "option tcpka\n", true, true},
		{"clitcpka", "", "option clitcpka\n", true, false},
		{"srvtcpka", "", "option srvtcpka\n", false, true},
		{"from defaults", "option tcpka\n", "", true, true},
		{"negated", "option tcpka\n", "no option srvtcpka\n", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseString(t, "defaults\nmode http\n"+tc.defaults+"listen l\nbind :8080\n"+tc.proxy+"server s 127.0.0.1:1\n")
			require.NoError(t, err)
			l := cfg.Proxy("l", CapBackend)
			require.NotNil(t, l)
			assert.Equal(t, tc.wantCli, l.ClientTCPKA, "client side")
			assert.Equal(t, tc.wantSrv, l.ServerTCPKA, "server side")
		})
	}
}
