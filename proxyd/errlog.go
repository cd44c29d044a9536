package proxyd

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// errorLog writes nginx-style error log lines:
// 2026/11/25 13:39:53 [error] PID#TID: *CONN message, client: ..., server: ..., request: "...", upstream: "...", host: "..."
type errorLog struct {
	f     *logFile
	level int
}

var levelRank = map[string]int{
	"debug": 0, "info": 1, "notice": 2, "warn": 3, "error": 4, "crit": 5, "alert": 6, "emerg": 7,
}

func newErrorLog(f *logFile, level string) *errorLog {
	if level == "" {
		level = "error"
	}
	return &errorLog{f: f, level: levelRank[level]}
}

// log writes one line at level about exchange x (which may be nil).
func (e *errorLog) log(level string, x *exchange, msg, upstream string) {
	if e == nil || e.f == nil || levelRank[level] < e.level {
		return
	}
	pid := os.Getpid()
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %d#%d: ", time.Now().Format("2006/01/02 15:04:05"), level, pid, pid)
	if x != nil {
		fmt.Fprintf(&b, "*%d %s, client: %s, server: ", x.c.id, msg, x.c.remote.Addr())
		if x.srv != nil {
			b.WriteString(x.srv.FirstName())
		}
		if x.req != nil {
			fmt.Fprintf(&b, `, request: "%s"`, x.req.line)
		}
		if upstream != "" {
			fmt.Fprintf(&b, `, upstream: "%s"`, upstream)
		}
		if x.req != nil {
			if h, ok := x.req.header("Host"); ok {
				fmt.Fprintf(&b, `, host: "%s"`, h)
			}
		}
	} else {
		b.WriteString(msg)
	}
	b.WriteByte('\n')
	e.f.write([]byte(b.String()))
}
