package l4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/syncbuf"
)

func testLogger() (*slog.Logger, *syncbuf.Buffer) {
	buf := &syncbuf.Buffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

func TestCheckerStepRetrySemantics(t *testing.T) {
	ck := &Check{Kind: checkKindTCP, Target: ap("10.0.2.11:80"), Retry: 2,
		DelayLoop: 6 * time.Second, DelayBeforeRetry: time.Second, ConnectTimeout: time.Second}
	results := []bool{}
	log, buf := testLogger()
	var reports []bool
	c := &checker{ck: ck, up: true, log: log, report: func(up bool) { reports = append(reports, up) },
		probe: func(context.Context) probeResult {
			ok := results[0]
			results = results[1:]
			if ok {
				return probeResult{}
			}
			return probeResult{err: errors.New("refused"), logLine: "TCP connection to [10.0.2.11]:tcp:80 failed."}
		}}
	type step struct {
		ok        bool
		wantDelay time.Duration
		wantUp    bool
	}
	steps := []step{
		{true, 6 * time.Second, true},
		{false, time.Second, true}, // retry 1
		{false, time.Second, true}, // retry 2
		{true, 6 * time.Second, true},
		{false, time.Second, true},
		{false, time.Second, true},
		{false, 6 * time.Second, false}, // 1 + retry failures: down
		{false, time.Second, false},     // a down checker retries too, silently
		{false, time.Second, false},
		{false, 6 * time.Second, false},
		{true, 6 * time.Second, true}, // one success: up
	}
	retries := 0
	for i, s := range steps {
		results = append(results, s.ok)
		var d time.Duration
		d, retries = c.step(context.Background(), retries)
		assert.Equal(t, s.wantDelay, d, "step %d", i)
		assert.Equal(t, s.wantUp, c.up, "step %d", i)
	}
	assert.Equal(t, []bool{false, true}, reports)
	out := buf.String()
	assert.Equal(t, 5, strings.Count(out, "TCP connection to [10.0.2.11]:tcp:80 failed."), out)
	assert.Contains(t, out, "TCP_CHECK on service [10.0.2.11]:tcp:80 failed after 2 retries.")
	assert.Contains(t, out, "TCP connection to [10.0.2.11]:tcp:80 success.")
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "hello")
		case "/host":
			fmt.Fprint(w, r.Host)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		default:
			http.Error(w, "nope", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	target := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	okCodes := []StatusRange{{200, 299}}
	tests := []struct {
		name  string
		urls  []URL
		vhost string
		want  string // empty: success
	}{
		{"ok", []URL{{Path: "/ok", StatusCodes: okCodes}}, "", ""},
		{"digest ok", []URL{{Path: "/ok", StatusCodes: okCodes, Digest: "5d41402abc4b2a76b9719d911017c592"}}, "", ""},
		{"digest bad", []URL{{Path: "/ok", StatusCodes: okCodes, Digest: "00000000000000000000000000000000"}}, "",
			"MD5 digest error to [127.0.0.1]:tcp:" + fmt.Sprint(target.Port()) + " url(/ok), MD5SUM [5d41402abc4b2a76b9719d911017c592]."},
		{"503", []URL{{Path: "/ok", StatusCodes: okCodes}, {Path: "/down", StatusCodes: okCodes}}, "",
			"HTTP status code error to [127.0.0.1]:tcp:" + fmt.Sprint(target.Port()) + " url(/down), status_code [503]."},
		{"503 accepted", []URL{{Path: "/down", StatusCodes: []StatusRange{{503, 503}}}}, "", ""},
		{"redirect not followed", []URL{{Path: "/moved", StatusCodes: []StatusRange{{301, 301}}}}, "", ""},
		{"virtualhost", []URL{{Path: "/host", StatusCodes: okCodes, Digest: "7c1767b30512b6003fd3c2e618a86522"}}, "www.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := &Check{Kind: checkKindHTTP, Target: target, ConnectTimeout: 3 * time.Second, URLs: tt.urls, VirtualHost: tt.vhost}
			r := httpProbe(DefaultDial, ck)(context.Background())
			if tt.want == "" {
				require.NoError(t, r.err)
				return
			}
			require.Error(t, r.err)
			assert.Equal(t, tt.want, r.logLine)
		})
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	addr := netip.MustParseAddrPort(ln.Addr().String())
	ck := &Check{Kind: checkKindTCP, Target: addr, ConnectTimeout: 2 * time.Second}
	require.NoError(t, tcpProbe(DefaultDial, ck)(context.Background()).err)
	require.NoError(t, ln.Close())
	r := tcpProbe(DefaultDial, ck)(context.Background())
	require.Error(t, r.err)
	assert.Equal(t, fmt.Sprintf("TCP connection to [127.0.0.1]:tcp:%d failed.", addr.Port()), r.logLine)
}
