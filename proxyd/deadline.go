package proxyd

import (
	"io"
	"net"
	"time"

	"halab/internal/renew"
)

// nginx's fixed defaults for client_body_timeout and send_timeout.
const (
	clientBodyTimeout = 60 * time.Second
	sendTimeout       = 60 * time.Second
)

// deadlineWriter renews the write deadline as it writes: nginx's send
// timeouts bound the time between two successive writes, not the whole
// transfer.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
	last    time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now, ok := renew.Due(&d.last, d.timeout); ok {
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
	if now, ok := renew.Due(&d.last, d.timeout); ok {
		_ = d.c.SetReadDeadline(now.Add(d.timeout))
	}
	return d.r.Read(p)
}
