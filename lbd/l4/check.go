package l4

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"
)

// DialFunc opens a TCP connection from local (invalid: any address) to
// address. Health checks dial through it, so they run in whatever network
// namespace the DialFunc's sockets are created in: by default lbd's own, the
// director's.
type DialFunc func(ctx context.Context, local netip.Addr, address string) (net.Conn, error)

// DefaultDial dials from the calling process's network namespace.
func DefaultDial(ctx context.Context, local netip.Addr, address string) (net.Conn, error) {
	var d net.Dialer
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	}
	return d.DialContext(ctx, "tcp4", address)
}

// probeResult is the outcome of one check attempt: err is nil on success;
// logLine is keepalived's line for a failed attempt.
type probeResult struct {
	err     error
	logLine string
}

// probeFunc runs one attempt of a checker, bounded by its connect_timeout.
type probeFunc func(ctx context.Context) probeResult

func target(ck *Check) string {
	return fmt.Sprintf("[%s]:tcp:%d", ck.Target.Addr(), ck.Target.Port())
}

// tcpProbe is TCP_CHECK: a TCP connection that completes within connect_timeout.
func tcpProbe(dial DialFunc, ck *Check) probeFunc {
	return func(ctx context.Context) probeResult {
		ctx, cancel := context.WithTimeout(ctx, ck.ConnectTimeout)
		defer cancel()
		c, err := dial(ctx, ck.BindTo, ck.Target.String())
		if err != nil {
			word := "failed"
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
				word = "timeout"
			}
			return probeResult{err: err, logLine: fmt.Sprintf("TCP connection to %s %s.", target(ck), word)}
		}
		_ = c.Close()
		return probeResult{}
	}
}

// httpProbe is HTTP_GET: every url must answer with an accepted status code
// (and digest, when set); connect_timeout bounds each request.
func httpProbe(dial DialFunc, ck *Check) probeFunc {
	return func(ctx context.Context) probeResult {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dial(ctx, ck.BindTo, ck.Target.String())
			},
			DisableKeepAlives: true,
		}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr, Timeout: ck.ConnectTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, u := range ck.URLs {
			if r := getURL(ctx, cl, ck, u); r.err != nil {
				return r
			}
		}
		return probeResult{}
	}
}

func getURL(ctx context.Context, cl *http.Client, ck *Check, u URL) probeResult {
	host := u.VirtualHost
	if host == "" {
		host = ck.VirtualHost
	}
	if host == "" {
		host = ck.Target.String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ck.Target.String()+u.Path, nil)
	if err != nil {
		return probeResult{err: err, logLine: fmt.Sprintf("Error connecting to server %s.", target(ck))}
	}
	req.Host = host
	req.Header.Set("User-Agent", "KeepAliveClient")
	resp, err := cl.Do(req)
	if err != nil {
		return probeResult{err: err, logLine: fmt.Sprintf("Error connecting to server %s.", target(ck))}
	}
	defer resp.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, io.LimitReader(resp.Body, 16<<20)); err != nil {
		return probeResult{err: err, logLine: fmt.Sprintf("Error connecting to server %s.", target(ck))}
	}
	if !u.Match(resp.StatusCode) {
		return probeResult{err: fmt.Errorf("status %d", resp.StatusCode),
			logLine: fmt.Sprintf("HTTP status code error to %s url(%s), status_code [%d].", target(ck), u.Path, resp.StatusCode)}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); u.Digest != "" && sum != u.Digest {
		return probeResult{err: fmt.Errorf("digest %s", sum),
			logLine: fmt.Sprintf("MD5 digest error to %s url(%s), MD5SUM [%s].", target(ck), u.Path, sum)}
	}
	return probeResult{}
}

// checker runs one health checker with keepalived's schedule: a check every
// delay_loop; a failed check of an up checker is retried `retry` times,
// delay_before_retry apart, before the checker goes down; one success brings
// it up.
type checker struct {
	ck    *Check
	probe probeFunc
	log   *slog.Logger
	up    bool
	// report is called with the new state on every transition.
	report func(up bool)
}

func newChecker(ck *Check, dial DialFunc, up bool, log *slog.Logger, report func(bool)) *checker {
	p := tcpProbe(dial, ck)
	if ck.Kind == checkKindHTTP {
		p = httpProbe(dial, ck)
	}
	return &checker{ck: ck, probe: p, log: log.With("check", ck.Kind, "rs", ck.Target.String()), up: up, report: report}
}

func (c *checker) kindName() string {
	if c.ck.Kind == checkKindHTTP {
		return "HTTP_CHECK"
	}
	return "TCP_CHECK"
}

// run checks until ctx ends.
func (c *checker) run(ctx context.Context) {
	delay := time.Duration(0)
	if c.ck.Warmup > 0 {
		delay = rand.N(c.ck.Warmup)
	}
	retries := 0
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay, retries = c.step(ctx, retries)
	}
}

// step runs one attempt and returns the delay until the next one and the
// retry counter, as keepalived's checker epilog does.
func (c *checker) step(ctx context.Context, retries int) (time.Duration, int) {
	r := c.probe(ctx)
	if ctx.Err() != nil {
		return 0, retries
	}
	ok := r.err == nil
	if !ok && c.up {
		c.log.Info(r.logLine, "err", r.err)
	}
	if !ok && retries < c.ck.Retry {
		return c.ck.DelayBeforeRetry, retries + 1
	}
	switch {
	case ok && !c.up:
		if c.ck.Kind == checkKindHTTP {
			c.log.Info(fmt.Sprintf("HTTP status code success to %s url(%s).", target(c.ck), c.ck.URLs[0].Path))
		} else {
			c.log.Info(fmt.Sprintf("TCP connection to %s success.", target(c.ck)))
		}
		c.up = true
		c.report(true)
	case !ok && c.up:
		if c.ck.Retry > 0 {
			c.log.Info(fmt.Sprintf("%s on service %s failed after %d retries.", c.kindName(), target(c.ck), c.ck.Retry))
		} else {
			c.log.Info(fmt.Sprintf("%s on service %s failed.", c.kindName(), target(c.ck)))
		}
		c.up = false
		c.report(false)
	}
	return c.ck.DelayLoop, 0
}
