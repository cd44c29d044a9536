package lbd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDiffServerConnectionReuse checks HAProxy's default "http-reuse
// safe" against haproxy: a client connection's first request goes over a
// server connection of its own even when another client's idle one
// waits in the pool; its later requests may reuse one.
func TestDiffServerConnectionReuse(t *testing.T) {
	var got [2][]int64
	for i, kind := range []string{"haproxy", "lbd"} {
		var conns atomic.Int64
		app := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }),
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			},
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go app.Serve(ln)
		t.Cleanup(func() { app.Close() })
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := "defaults\nmode http\ntimeout connect 2s\ntimeout client 5s\ntimeout server 5s\n" +
			"listen web\nbind " + listen + "\nserver app " + ln.Addr().String() + "\n"
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, listen)
		} else {
			b, _ = startLBD(t, cfg, listen)
		}
		get := func(c net.Conn, br *bufio.Reader) {
			t.Helper()
			require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			res, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			time.Sleep(50 * time.Millisecond) // the server connection goes idle
		}
		var seq []int64
		for range 2 { // two clients, two requests each
			c, err := net.Dial("tcp", b.Addr)
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			br := bufio.NewReader(c)
			get(c, br)
			seq = append(seq, conns.Load())
			get(c, br)
			seq = append(seq, conns.Load())
		}
		got[i] = seq
	}
	assert.Equal(t, got[0], got[1], "server connections opened after each request (haproxy, lbd)")
	assert.Equal(t, []int64{1, 1, 2, 2}, got[1])
}
