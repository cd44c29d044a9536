package lbd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// checkResult is the outcome of one health check, worded as HAProxy's
// "reason" and "info" fields.
type checkResult struct {
	ok     bool
	reason string // "Layer4 check passed", "Layer7 wrong status", ...
	code   int    // HTTP status for layer 7 results
	info   string
	dur    time.Duration
}

// runChecks probes s every "inter" (fastinter while changing state,
// downinter while down) and applies rise/fall as HAProxy does: a server
// starts UP with health = rise, so it falls at its first failure, and once
// risen its health is rise+fall-1, so it needs fall failures to go down.
func (b *Backend) runChecks(ctx context.Context, s *Server) {
	// Spread the first checks a little, as HAProxy does.
	idx := 0
	for i, x := range b.Servers {
		if x == s {
			idx = i
		}
	}
	first := time.Duration(idx) * s.Cfg.Inter / time.Duration(len(b.Servers)+1)
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		res := b.checkOnce(ctx, s)
		if ctx.Err() != nil {
			return
		}
		b.applyCheck(s, res)
		timer.Reset(b.nextInterval(s))
	}
}

func (b *Backend) nextInterval(s *Server) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.Cfg
	full := c.Rise + c.Fall - 1
	switch {
	case !s.up && s.health == 0 && c.DownInter > 0:
		return c.DownInter
	case s.health != 0 && s.health != full && c.FastInter > 0:
		return c.FastInter
	}
	return c.Inter
}

// applyCheck moves the health counter and logs state changes.
func (b *Backend) applyCheck(s *Server, res checkResult) {
	s.mu.Lock()
	c := s.Cfg
	full := c.Rise + c.Fall - 1
	wasUp := s.up
	s.checkDur = res.dur
	s.lastChk = res.reason
	if res.ok {
		if s.health < full {
			s.health++
			if s.health >= c.Rise {
				s.health = full
			}
		}
		if !s.up && s.health >= c.Rise {
			s.up = true
		}
	} else if s.health > 0 {
		s.chkFail.Add(1)
		s.health--
		if s.health < c.Rise {
			s.health = 0
		}
		if s.up && s.health < c.Rise {
			s.up = false
		}
	}
	changed := wasUp != s.up
	if changed {
		s.lastChg = time.Now()
	}
	nowUp := s.up
	s.mu.Unlock()
	if !changed {
		return
	}
	if nowUp {
		b.Balancer.SetUp(s)
	} else {
		s.downTrans.Add(1)
		b.Balancer.SetDown(s)
	}
	msg := fmt.Sprintf("%s %s/%s is %s, reason: %s", serverLabel(s), b.Name, s.Name, map[bool]string{true: "UP", false: "DOWN"}[nowUp], res.reason)
	if res.code != 0 {
		msg += fmt.Sprintf(", code: %d", res.code)
	}
	if res.info != "" {
		msg += fmt.Sprintf(", info: %q", res.info)
	}
	msg += fmt.Sprintf(", check duration: %dms. %s", res.dur.Milliseconds(), b.stateSummary(nowUp))
	if nowUp {
		msg += " 0 sessions requeued, 0 total in queue."
	} else {
		msg += fmt.Sprintf(" %d sessions active, 0 requeued, 0 remaining in queue.", s.cur.Load())
	}
	b.in.Log.Warn(msg)
	if !nowUp {
		if act, bck := b.counts(); act == 0 && bck == 0 {
			b.in.Log.Error(fmt.Sprintf("backend '%s' has no server available!", b.Name))
		}
	}
}

// checkOnce runs one tcp-check connect or httpchk probe.
func (b *Backend) checkOnce(ctx context.Context, s *Server) checkResult {
	start := time.Now()
	t := b.Cfg.Timeouts
	// As HAProxy documents for "timeout check": without it, "inter" bounds
	// the whole check; with it, the connect takes at most min("timeout
	// connect", "inter") and "timeout check" bounds the read.
	connTO, readTO := s.Cfg.Inter, s.Cfg.Inter
	if t.Check > 0 {
		readTO = t.Check
		if t.Connect > 0 && t.Connect < connTO {
			connTO = t.Connect
		}
	}
	d := net.Dialer{Timeout: connTO}
	if b.Cfg.HTTPCheck == nil {
		// A layer-4 check sends nothing: as HAProxy, it connects with
		// quick ACKs off, so that the handshake's last ACK waits, and
		// resets once connected (closeServerConn), so that the server
		// never accepts the check.
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return rawSetsockoptInt(c, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)
		}
	}
	conn, err := d.DialContext(ctx, "tcp", s.checkAddress())
	if err != nil {
		res := checkResult{reason: "Layer4 connection problem", info: connErrInfo(err), dur: time.Since(start)}
		if errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err) {
			res = checkResult{reason: "Layer4 timeout", dur: time.Since(start)}
		}
		if b.Cfg.TCPCheck && res.info != "" {
			res.info += " at initial connection step of tcp-check"
		}
		return res
	}
	defer closeServerConn(conn)
	hc := b.Cfg.HTTPCheck
	if hc == nil {
		return checkResult{ok: true, reason: "Layer4 check passed", dur: time.Since(start)}
	}
	conn.SetDeadline(time.Now().Add(readTO))
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s %s\r\n", hc.Method, hc.URI, hc.Version)
	if hc.Host != "" {
		fmt.Fprintf(&req, "host: %s\r\n", hc.Host)
	}
	if hc.Version == "HTTP/1.1" {
		req.WriteString("connection: close\r\n")
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return checkResult{reason: "Layer4 connection problem", info: connErrInfo(err), dur: time.Since(start)}
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		if isTimeout(err) {
			return checkResult{reason: "Layer7 timeout", dur: time.Since(start)}
		}
		return checkResult{reason: "Layer7 invalid response", info: "Socket error", dur: time.Since(start)}
	}
	parts := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/") {
		return checkResult{reason: "Layer7 invalid response", info: "Invalid HTTP response", dur: time.Since(start)}
	}
	code, _ := strconv.Atoi(parts[1])
	reasonPhrase := ""
	if len(parts) == 3 {
		reasonPhrase = parts[2]
	}
	e := hc.Expect
	if e == nil {
		if code >= 200 && code < 400 {
			return checkResult{ok: true, reason: "Layer7 check passed", code: code, dur: time.Since(start)}
		}
		return checkResult{reason: "Layer7 wrong status", code: code, info: reasonPhrase, dur: time.Since(start)}
	}
	var ok bool
	switch e.Kind {
	case "status":
		ok = parts[1] == e.Pattern
	case "rstatus":
		ok = e.Regexp.MatchString(parts[1])
	case "string", "rstring":
		body, _ := io.ReadAll(io.LimitReader(br, 64<<10))
		if e.Kind == "string" {
			ok = strings.Contains(string(body), e.Pattern)
		} else {
			ok = e.Regexp.Match(body)
		}
		if ok != e.Negate {
			return checkResult{ok: true, reason: "Layer7 check passed", code: code, dur: time.Since(start)}
		}
		return checkResult{reason: "Layer7 wrong status", code: code, info: "HTTP content check did not match", dur: time.Since(start)}
	}
	if ok != e.Negate {
		return checkResult{ok: true, reason: "Layer7 check passed", code: code, dur: time.Since(start)}
	}
	return checkResult{reason: "Layer7 wrong status", code: code, info: reasonPhrase, dur: time.Since(start)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connErrInfo words a connection error as HAProxy's check info does.
func connErrInfo(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "No route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "Network is unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "Connection reset by peer"
	}
	return err.Error()
}
