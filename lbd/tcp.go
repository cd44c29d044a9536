package lbd

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// serveTCP proxies a raw TCP connection in "mode tcp": pick a server,
// connect with retries and redispatch, then copy both ways until both
// sides are done, honouring "timeout client" and "timeout server" as idle
// timeouts.
func (c *clientConn) serveTCP() {
	fe := c.fe
	be := fe.backendFor(&txn{fe: fe, src: c.src, dst: c.dst})
	if be == nil {
		return
	}
	be.cumConns.Add(1)
	srv := be.Balancer.Pick(c.src.Addr(), nil)
	if srv == nil {
		return
	}
	var conn net.Conn
	for attempt := 0; ; attempt++ {
		srv.total.Add(1)
		var err error
		conn, err = srv.dial(int(c.dst.Port()), firstSet(be.Cfg.Timeouts.Connect, 30*time.Second))
		if err == nil {
			break
		}
		srv.failedConn.Add(1)
		be.Balancer.Release(srv)
		if attempt >= be.Cfg.Retries {
			return
		}
		if be.Cfg.Redispatch && attempt == be.Cfg.Retries-1 {
			if other := be.Balancer.Pick(c.src.Addr(), srv); other != nil && other != srv {
				srv.redisp.Add(1)
				srv = other
				continue
			}
		}
		srv.retried.Add(1)
		time.Sleep(min(turnAround, firstSet(be.Cfg.Timeouts.Connect, turnAround)))
	}
	if n := srv.cur.Add(1); n > srv.max.Load() {
		srv.max.Store(n)
	}
	defer func() {
		srv.cur.Add(-1)
		be.Balancer.Release(srv)
	}()
	defer conn.Close()
	var wg sync.WaitGroup
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	wg.Add(2)
	go func() {
		defer wg.Done()
		n := pipe(conn, c.conn, fe.Cfg.Timeouts.Client, &last)
		srv.bytesIn.Add(uint64(n))
		fe.bytesIn.Add(uint64(n))
	}()
	go func() {
		defer wg.Done()
		n := pipe(c.conn, conn, be.Cfg.Timeouts.Server, &last)
		srv.bytesOut.Add(uint64(n))
		fe.bytesOut.Add(uint64(n))
	}()
	wg.Wait()
}

// pipe copies src to dst, then half-closes dst for writing. A read that
// waits longer than idle ends the session, unless the other direction
// moved data meanwhile (last holds the time of the latest transfer).
func pipe(dst, src net.Conn, idle time.Duration, last *atomic.Int64) int64 {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return total
			}
			total += int64(n)
		}
		if err != nil {
			if isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle {
				continue
			}
			if err != io.EOF {
				// Timeout or reset: tear both sides down.
				dst.Close()
				src.Close()
				return total
			}
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			return total
		}
	}
}
