package proxyd

import (
	"io"
	"net"
	"time"
)

// nginx's fixed defaults for client_body_timeout and send_timeout.
const (
	clientBodyTimeout = 60 * time.Second
	sendTimeout       = 60 * time.Second
)

// renewal tells whether a deadline set at last for timeout is due for
// renewal. Setting a deadline costs a runtime timer update, so it is
// renewed only once 1/64 of the timeout has passed: a 60 s timeout then
// fires between 59 and 60 s after the last progress.
func renewal(last *time.Time, timeout time.Duration) (time.Time, bool) {
	now := time.Now()
	if now.Sub(*last) < timeout/64 {
		return now, false
	}
	*last = now
	return now, true
}

// deadlineWriter renews the write deadline as it writes: nginx's send
// timeouts bound the time between two successive writes, not the whole
// transfer.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
	last    time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now, ok := renewal(&d.last, d.timeout); ok {
		_ = d.c.SetWriteDeadline(now.Add(d.timeout))
	}
	return d.c.Write(p)
}

// deadlineReader renews the read deadline of c as r reads (r reads from
// c, possibly through a buffer).
type deadlineReader struct {
	r       io.Reader
	c       net.Conn
	timeout time.Duration
	last    time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if now, ok := renewal(&d.last, d.timeout); ok {
		_ = d.c.SetReadDeadline(now.Add(d.timeout))
	}
	return d.r.Read(p)
}
