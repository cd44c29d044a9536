package proxyd

import (
	"io"
	"net"
	"sync"
	"time"
)

// tunnel copies bytes both ways between an upgraded client connection and
// its upstream until either side closes, as nginx does after a 101. As in
// nginx, proxy_read_timeout bounds how long the tunnel may stay silent in
// either direction.
// It returns the bytes sent to the client, which nginx logs as
// $body_bytes_sent.
func tunnel(c *clientConn, u *upConn, idle time.Duration) int64 {
	_ = c.nc.SetDeadline(time.Time{})
	_ = u.nc.SetDeadline(time.Time{})
	var toClient int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(u.nc, &deadlineReader{r: c.br, c: c.nc, timeout: idle})
		closeWrite(u.nc)
	}()
	go func() {
		defer wg.Done()
		toClient, _ = io.Copy(c.nc, &deadlineReader{r: u.br, c: u.nc, timeout: idle})
		closeWrite(c.nc)
	}()
	wg.Wait()
	u.close()
	return toClient
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = c.Close()
}
