package lbd

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"halab/lbd/haproxycfg"
)

// logSink sends traffic log lines to a proxy's "log" targets: UDP syslog
// (RFC 3164 framing, as haproxy sends it) or stdout/stderr.
type logSink struct {
	tag     string
	pid     int
	targets []*sinkTarget
}

type sinkTarget struct {
	cfg  haproxycfg.LogTarget
	mu   sync.Mutex
	w    io.Writer
	conn net.Conn
}

// newLogSink opens the targets; it returns nil when there are none.
func newLogSink(targets []haproxycfg.LogTarget, tag string) *logSink {
	if len(targets) == 0 {
		return nil
	}
	if tag == "" {
		// The program name haproxy would log with, so that syslog rules
		// written for haproxy keep matching.
		tag = "haproxy"
	}
	s := &logSink{tag: tag, pid: os.Getpid()}
	for _, t := range targets {
		st := &sinkTarget{cfg: t}
		switch t.Addr {
		case "stdout":
			st.w = os.Stdout
		case "stderr":
			st.w = os.Stderr
		default:
			c, err := net.Dial("udp", t.Addr)
			if err != nil {
				continue
			}
			st.conn, st.w = c, c
		}
		s.targets = append(s.targets, st)
	}
	return s
}

// send logs msg at syslog severity level (6 is info).
func (s *logSink) send(level int, msg string) {
	if s == nil {
		return
	}
	now := time.Now()
	for _, t := range s.targets {
		if level > t.cfg.Level {
			continue
		}
		line := msg + "\n"
		if !t.cfg.Raw {
			line = fmt.Sprintf("<%d>%s %s[%d]: %s", t.cfg.Facility*8+level, now.Format("Jan _2 15:04:05"), s.tag, s.pid, line)
		}
		t.mu.Lock()
		io.WriteString(t.w, line)
		t.mu.Unlock()
	}
}

func (s *logSink) close() {
	if s == nil {
		return
	}
	for _, t := range s.targets {
		if t.conn != nil {
			t.conn.Close()
		}
	}
}

// reqLog collects what HAProxy's "option httplog" line reports about one
// request.
type reqLog struct {
	start    time.Time // first byte of the request
	headers  time.Time // end of the request headers
	tc       int       // connect time in ms, -1 if no connection was made
	tr       int       // server response time in ms, -1 if none
	status   int
	bytes    int64
	term     string // two termination state characters
	ckReq    byte   // persistence cookie flag of the request
	ckResp   byte   // what was done to the response's cookie
	retries  int
	badReq   bool
	backend  string
	server   string
	reqLine  string
	srv      *Server
	be       *Backend
	withWait bool // a server was being looked for (Tw is 0, not -1)
}

func newReqLog(start time.Time) *reqLog {
	l := initialReqLog(start)
	return &l
}

// initialReqLog is a transaction's log before anything happened.
func initialReqLog(start time.Time) reqLog {
	return reqLog{start: start, tc: -1, tr: -1, term: "--", ckReq: '-', ckResp: '-', server: "<NOSRV>"}
}

func ms(d time.Duration) int { return int(d / time.Millisecond) }

// httplog formats the line of haproxy's "option httplog":
// %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
// %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
func (c *clientConn) httplog(l *reqLog) string {
	fe := c.fe
	tR := -1
	if !l.headers.IsZero() {
		tR = ms(l.headers.Sub(l.start))
	}
	tw := -1
	if l.withWait {
		tw = 0
	}
	ta := ms(time.Since(l.start))
	backend := l.backend
	if backend == "" {
		backend = fe.Name
	}
	var bc, sc int64
	if l.be != nil {
		for _, s := range l.be.Servers {
			bc += s.cur.Load()
		}
	}
	if l.srv != nil {
		sc = l.srv.cur.Load()
	}
	fe.in.mu.Lock()
	ac := len(fe.in.conns)
	fe.in.mu.Unlock()
	reqLine := l.reqLine
	if l.badReq {
		reqLine = "<BADREQ>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d [%s] %s %s/%s %d/%d/%d/%d/%d %d %d - - %s%c%c %d/%d/%d/%d/%d 0/0 \"%s\"",
		c.src.Addr().Unmap(), c.src.Port(), l.start.Format("02/Jan/2006:15:04:05.000"), fe.Name, backend, l.server,
		tR, tw, l.tc, l.tr, ta, l.status, l.bytes, l.term, l.ckReq, l.ckResp,
		ac, fe.curConns.Load(), bc, sc, l.retries, reqLine)
	return b.String()
}

// emitLog sends the httplog line if the frontend logs traffic.
func (c *clientConn) emitLog(l *reqLog) {
	fe := c.fe
	if fe.logs == nil || !fe.Cfg.HTTPLog {
		return
	}
	fe.logs.send(6, c.httplog(l))
}
