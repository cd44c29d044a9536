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

// deadlineWriter renews the write deadline before each write: nginx's
// send timeouts bound the time between two successive writes, not the
// whole transfer.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.c.Write(p)
}

// deadlineReader renews the read deadline of c before each read from r
// (r reads from c, possibly through a buffer).
type deadlineReader struct {
	r       io.Reader
	c       net.Conn
	timeout time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.c.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}
