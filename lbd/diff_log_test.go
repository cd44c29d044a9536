package lbd

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// udpSyslog collects the datagrams sent to a loopback UDP port.
type udpSyslog struct {
	Addr  string
	mu    sync.Mutex
	lines []string
}

func startSyslog(t *testing.T) *udpSyslog {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &udpSyslog{Addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.lines = append(s.lines, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return s
}

func (s *udpSyslog) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := append([]string(nil), s.lines...)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	syslogHead = regexp.MustCompile(`^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d haproxy\[\d+\]: `)
	logClient  = regexp.MustCompile(`^127\.0\.0\.1:\d+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] `)
	logTimers  = regexp.MustCompile(` (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(\d+) `)
	logConns   = regexp.MustCompile(` \d+/\d+/(\d+)/(\d+)/(\d+) 0/0 `)
	logBytes   = regexp.MustCompile(` \d+ - - [-\w]{4} `)
)

// normalizeLog keeps what must match in an httplog line and hides what
// varies (ports, dates, durations: only "-1" versus "measured" is kept).
func normalizeLog(line string) string {
	m := syslogHead.FindStringSubmatch(line)
	if m == nil {
		return "BAD SYSLOG FRAME: " + line
	}
	msg := strings.TrimSuffix(line[len(m[0]):], "\n")
	msg = logClient.ReplaceAllString(msg, "CLIENT [DATE] ")
	// Only the first such field holds timers; the second is the
	// connection counts, kept as they are.
	if loc := logTimers.FindStringIndex(msg); loc != nil {
		parts := strings.Split(strings.TrimSpace(msg[loc[0]:loc[1]]), "/")
		for i, p := range parts {
			if p != "-1" {
				parts[i] = "t"
			}
		}
		msg = msg[:loc[0]] + " " + strings.Join(parts, "/") + " " + msg[loc[1]:]
	}
	// %ac/%fc/%bc/%sc: a connection just closed may still be counted for
	// an instant (by either, haproxy runs two threads); the retries (%rc)
	// are kept.
	msg = logConns.ReplaceAllString(msg, " n/n/n/n/$3 0/0 ")
	// %B: lbd counts the bytes it wrote to the client; haproxy's count
	// differs by a few bytes per header (DIFFERENCES.md). Keep zero apart.
	msg = logBytes.ReplaceAllStringFunc(msg, func(s string) string {
		if strings.HasPrefix(s, " 0 ") {
			return s
		}
		return " B - - " + s[len(s)-5:]
	})
	return "<" + m[1] + "> " + msg
}

// TestDiffHTTPLog compares the "option httplog" lines both send to syslog
// for the article's backend: cookie flags, termination states, statuses,
// byte counts, retries.
func TestDiffHTTPLog(t *testing.T) {
	var got [2][]string
	for i, kind := range []string{"haproxy", "lbd"} {
		sl := startSyslog(t)
		a1, a2 := startApp(t, "app01"), startApp(t, "app02")
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := "global\n    log " + sl.Addr + " local2\ndefaults\n    mode http\n    log global\n    option httplog\n    option dontlognull\n" +
			"    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n" +
			"frontend HTTP-Service\nbind " + listen + "\nhttp-request deny if { path /admin }\n" +
			"http-request use-service prometheus-exporter if { path /metrics }\ndefault_backend HTTP-Service\n" +
			"backend HTTP-Service\ncookie JSESSIONID prefix nocache\nhttp-response replace-value Set-Cookie (.*) \\1;\\ HttpOnly;\n" +
			"server App01 " + a1.Addr + " cookie app01\nserver App02 " + a2.Addr + " cookie app02\nserver Dead 127.0.0.1:1 cookie dead\n"
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, listen)
		} else {
			b, _ = startLBD(t, cfg, listen)
		}
		get(t, b.Addr, "/a?x=1")
		get(t, b.Addr, "/b", "cookie: JSESSIONID=app02~0123456789abcdef")
		get(t, b.Addr, "/c?nocookie=1", "cookie: JSESSIONID=bogus~zz")
		get(t, b.Addr, "/d", "cookie: JSESSIONID=dead~zz")
		get(t, b.Addr, "/admin")
		rawExchange(t, b.Addr, "GARBAGE\r\n\r\n")
		c, err := net.Dial("tcp", b.Addr) // a null connection: not logged
		require.NoError(t, err)
		c.Close()
		for _, l := range sl.wait(t, 6) {
			got[i] = append(got[i], normalizeLog(l))
		}
	}
	// Each request has its connection; the line of one answered at once
	// may be sent before or after the next one's (haproxy logs at the end
	// of the stream, after the answer went out): compare them as sets.
	for i := range got {
		slices.Sort(got[i])
	}
	require.Equal(t, got[0], got[1])
	t.Logf("%s", strings.Join(got[1], "\n"))
}
