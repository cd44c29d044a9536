package lbd

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
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
// server connection belongs to its client connection. haproxy runs one
// thread (see TestDiffServerConnectionOrder).
func TestDiffServerConnectionReuse(t *testing.T) {
	for _, tc := range []struct {
		reuse string
		want  []int64
	}{
		// the second client's own server connection closes after its
		// first request: the first client's waits idle, and one is all
		// that was needed at once
		{"", []int64{1, 1, 2, 2, 1}},
		{"never", []int64{1, 1, 2, 2, 1}},
		{"safe", []int64{1, 1, 2, 2, 1}},
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

// reuseBalancer serves app on loopback and starts haproxy (one thread)
// or lbd in front of it, with the http-reuse strategy reuse (the default
// when empty).
func reuseBalancer(t *testing.T, kind, reuse string, app *http.Server) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go app.Serve(ln)
	t.Cleanup(func() { app.Close() })
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := "global\nnbthread 1\ndefaults\nmode http\ntimeout connect 2s\ntimeout client 5s\ntimeout server 5s\n" +
		"listen web\nbind " + listen + "\nserver app " + ln.Addr().String() + "\n"
	if reuse != "" {
		cfg += "http-reuse " + reuse + "\n"
	}
	if kind == "haproxy" {
		return startHAProxy(t, cfg, listen)
	}
	b, _ := startLBD(t, cfg, listen)
	return b
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
		b := reuseBalancer(t, kind, reuse, app)
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

// TestDiffServerConnectionOrder compares which server connection each
// request goes over, and which server connections close, under haproxy
// with one thread and under lbd, for scripted request sequences: first
// some clients with one request at once (the application holds them until
// all have come), then one request at a time, each letter a client
// connection of its own. HAProxy with several threads keeps one pool per
// thread, so its order depends on the thread each client lands on.
func TestDiffServerConnectionOrder(t *testing.T) {
	for _, tc := range []struct {
		reuse    string
		parallel int
		clients  string
		want     []int
	}{
		{"safe", 0, "ABABABCC", []int{1, 2, 1, 1, 1, 1, 3, 1}},
		{"safe", 3, "PPQQ", []int{4, 1, 5, 2}},
		{"aggressive", 0, "AABBC", []int{1, 1, 1, 1, 1}},
		{"always", 3, "DDDDDDDD", []int{1, 2, 3, 1, 2, 3, 1, 2}},
	} {
		t.Run(fmt.Sprintf("%s/%d%s", tc.reuse, tc.parallel, tc.clients), func(t *testing.T) {
			var got [2]connOrder
			for i, kind := range []string{"haproxy", "lbd"} {
				got[i] = connectionOrder(t, kind, tc.reuse, tc.parallel, tc.clients)
			}
			assert.Equal(t, got[0], got[1], "server connections (haproxy, lbd)")
			assert.Equal(t, tc.want, got[1].Used)
		})
	}
}

// connOrder is what the application saw: the number of the connection
// (in the order they came) each sequential request went over, and the
// connections closed at the end.
type connOrder struct {
	Used   []int
	Closed []int
}

func connectionOrder(t *testing.T, kind, reuse string, parallel int, clients string) connOrder {
	t.Helper()
	type connKey struct{}
	var (
		mu     sync.Mutex
		n      int
		ids    = map[net.Conn]int{}
		closed []int
		held   sync.WaitGroup
	)
	held.Add(parallel)
	app := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				// all at once, then answered in the order of their
				// connections, so that they go back to the pool in it
				held.Done()
				held.Wait()
				time.Sleep(time.Duration(r.Context().Value(connKey{}).(int)) * 30 * time.Millisecond)
			}
			fmt.Fprint(w, r.Context().Value(connKey{}))
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			mu.Lock()
			defer mu.Unlock()
			n++
			ids[c] = n
			return context.WithValue(ctx, connKey{}, n)
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				mu.Lock()
				closed = append(closed, ids[c])
				mu.Unlock()
			}
		},
	}
	b := reuseBalancer(t, kind, reuse, app)
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	dial := func() client {
		c, err := net.Dial("tcp", b.Addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return client{c, bufio.NewReader(c)}
	}
	get := func(cl client, path string) int {
		require.NoError(t, cl.c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err := io.WriteString(cl.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(cl.br, nil)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		res.Body.Close()
		id, err := strconv.Atoi(string(body))
		require.NoError(t, err, "%s: %q", kind, body)
		return id
	}
	var wg sync.WaitGroup
	for range parallel {
		cl := dial()
		wg.Go(func() { get(cl, "/hold") })
	}
	wg.Wait()
	settle := func() { time.Sleep(50 * time.Millisecond) } // the server connection goes back to the pool
	settle()
	var out connOrder
	conns := map[rune]client{}
	for _, r := range clients {
		cl, ok := conns[r]
		if !ok {
			cl = dial()
			conns[r] = cl
		}
		out.Used = append(out.Used, get(cl, "/"))
		settle()
	}
	mu.Lock()
	out.Closed = slices.Sorted(slices.Values(closed))
	mu.Unlock()
	return out
}
