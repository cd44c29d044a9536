package lbd

import (
	"bufio"
	"cmp"
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

// TestDiffServerConnectionReuse runs two client connections one after
// the other, two requests each, through haproxy and lbd under each
// http-reuse strategy, and compares the server connections opened after
// each request, then whether the first client's server connection closes
// when that client leaves. Under "safe", the default, a client
// connection's first request goes over a server connection of its own
// even when another client's idle one waits in the pool; under "never" a
// server connection belongs to its client connection.
func TestDiffServerConnectionReuse(t *testing.T) {
	for _, tc := range []struct {
		reuse string
		want  []int64
	}{
		{"", []int64{1, 1, 2, 2, 0}},
		{"never", []int64{1, 1, 2, 2, 1}},
		{"safe", []int64{1, 1, 2, 2, 0}},
		{"aggressive", []int64{1, 1, 1, 1, 0}},
		{"always", []int64{1, 1, 1, 1, 0}},
	} {
		t.Run(cmp.Or(tc.reuse, "default"), func(t *testing.T) {
			got := reuseSequence(t, tc.reuse)
			assert.Equal(t, got[0], got[1], "server connections opened after each request (haproxy, lbd)")
			assert.Equal(t, tc.want, got[1])
		})
	}
}

func reuseSequence(t *testing.T, reuse string) [2][]int64 {
	t.Helper()
	var got [2][]int64
	for i, kind := range []string{"haproxy", "lbd"} {
		var conns, closed atomic.Int64
		app := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }),
			ConnState: func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateNew:
					conns.Add(1)
				case http.StateClosed:
					closed.Add(1)
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
		if reuse != "" {
			cfg += "http-reuse " + reuse + "\n"
		}
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
		var clients []net.Conn
		for range 2 { // two clients, two requests each
			c, err := net.Dial("tcp", b.Addr)
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			clients = append(clients, c)
			br := bufio.NewReader(c)
			get(c, br)
			seq = append(seq, conns.Load())
			get(c, br)
			seq = append(seq, conns.Load())
		}
		// then the first client leaves: does its server connection go?
		clients[0].Close()
		time.Sleep(200 * time.Millisecond)
		seq = append(seq, closed.Load())
		got[i] = seq
	}
	return got
}
