package lbd

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func scrape(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

var sampleLine = regexp.MustCompile(`^(haproxy_[a-z_]+)(\{[^}]*\})? (\S+)$`)

// samples maps "name{labels}" to the value.
func samples(text string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if m := sampleLine.FindStringSubmatch(l); m != nil {
			out[m[1]+m[2]] = m[3]
		}
	}
	return out
}

// TestDiffStats checks lbd's Prometheus exporter and CSV statistics
// against haproxy's for the same traffic: every sample lbd exports exists
// in haproxy's output under the same name and labels, and the counters
// and states both track agree.
func TestDiffStats(t *testing.T) {
	var prom [2]map[string]string
	var csv [2][]string
	for i, kind := range []string{"haproxy", "lbd"} {
		a1, a2, a3 := startApp(t, "app01"), startApp(t, "app02"), startApp(t, "app03")
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		// one haproxy thread: idle server connections are kept per
		// thread (see TestDiffServerConnectionOrder)
		cfg := strings.Replace(diffDefaults, "global\n", "global\n    nbthread 1\n", 1) + `frontend fe
bind ` + listen + `
http-request use-service prometheus-exporter if { path /metrics }
stats enable
stats uri /stats
default_backend be
backend be
server s1 ` + a1.Addr + ` weight 3 check inter 200ms
server s2 ` + a2.Addr + ` check inter 200ms
server s3 ` + a3.Addr + ` backup
`
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, listen)
		} else {
			b, _ = startLBD(t, cfg, listen)
		}
		a2.Stop()
		waitLog(t, b, `Server be/s2 is DOWN`, 5*time.Second)
		for j := 0; j < 5; j++ {
			get(t, b.Addr, "/?nocookie=1")
		}
		// haproxy updates some counters when a stream ends, just after
		// the response went out: wait until the last request is counted.
		for deadline := time.Now().Add(3 * time.Second); ; {
			prom[i] = samples(scrape(t, "http://"+listen+"/metrics"))
			if prom[i][`haproxy_backend_http_requests_total{proxy="be"}`] == "5" &&
				prom[i][`haproxy_server_used_connections_current{proxy="be",server="s1"}`] == "0" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, l := range strings.Split(scrape(t, "http://"+listen+"/stats;csv"), "\n") {
			f := strings.Split(l, ",")
			if len(f) < 45 || strings.HasPrefix(l, "#") {
				continue
			}
			// pxname svname status weight act bck hrsp_2xx; stot for servers.
			row := []string{f[0], f[1], f[17], f[18], f[19], f[20]}
			if f[1] != "FRONTEND" {
				// (The frontend's counts include the scrapes, whose
				// number may differ.)
				row = append(row, f[40], f[7])
			}
			csv[i] = append(csv[i], strings.Join(row, ","))
		}
	}
	for k := range prom[1] {
		_, ok := prom[0][k]
		assert.True(t, ok, "haproxy exports no %s", k)
	}
	for _, k := range []string{
		`haproxy_server_sessions_total{proxy="be",server="s1"}`,
		`haproxy_server_sessions_total{proxy="be",server="s3"}`,
		`haproxy_server_status{proxy="be",server="s1",state="UP"}`,
		`haproxy_server_status{proxy="be",server="s2",state="DOWN"}`,
		`haproxy_backend_active_servers{proxy="be"}`,
		`haproxy_backend_backup_servers{proxy="be"}`,
		`haproxy_server_weight{proxy="be",server="s1"}`,
		`haproxy_server_check_up_down_total{proxy="be",server="s2"}`,
		`haproxy_server_http_responses_total{proxy="be",server="s1",code="2xx"}`,
		`haproxy_backend_http_requests_total{proxy="be"}`,
		`haproxy_server_check_failures_total{proxy="be",server="s3"}`,
		// five requests one after the other, each a client's first: the
		// first one's server connection waits idle, the others close
		`haproxy_server_idle_connections_current{proxy="be",server="s1"}`,
		`haproxy_server_idle_connections_limit{proxy="be",server="s1"}`,
		`haproxy_server_unsafe_idle_connections_current{proxy="be",server="s1"}`,
		`haproxy_server_safe_idle_connections_current{proxy="be",server="s1"}`,
		`haproxy_server_used_connections_current{proxy="be",server="s1"}`,
		`haproxy_server_need_connections_current{proxy="be",server="s1"}`,
	} {
		assert.Equal(t, prom[0][k], prom[1][k], k)
	}
	assert.Equal(t, csv[0], csv[1])
	assert.Equal(t, "1", prom[1][`haproxy_server_idle_connections_current{proxy="be",server="s1"}`])
	assert.Equal(t, "1", prom[1][`haproxy_server_need_connections_current{proxy="be",server="s1"}`])
}
