package proxyd

import (
	"io"
	"net"
	"sync"
	"time"
)

// tunnel copies bytes both ways between an upgraded client connection and
// its upstream until either side closes, as nginx does after a 101.
// It returns the bytes sent to the client, which nginx logs as
// $body_bytes_sent.
func tunnel(c *clientConn, u *upConn) int64 {
	_ = c.nc.SetDeadline(time.Time{})
	_ = u.nc.SetDeadline(time.Time{})
	var toClient int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(u.nc, c.br)
		closeWrite(u.nc)
	}()
	go func() {
		defer wg.Done()
		toClient, _ = io.Copy(c.nc, u.br)
		closeWrite(c.nc)
	}()
	wg.Wait()
	u.close()
	return toClient
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = c.Close()
}
