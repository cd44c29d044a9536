package lbd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
)

// endApp answers every request with a short keep-alive response and
// records how the balancer ended each connection: "FIN" (an orderly
// close) or "RST" (a reset).
type endApp struct {
	Addr string
	mu   sync.Mutex
	ends []string
}

func startEndApp(t *testing.T) *endApp {
	t.Helper()
	a := &endApp{}
	a.Addr = nettest.Serve(t, "tcp", "127.0.0.1:0", a.serve).Addr().String()
	return a
}

func (a *endApp) serve(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			end := err.Error()
			switch {
			case errors.Is(err, io.EOF):
				end = "FIN"
			case errors.Is(err, syscall.ECONNRESET):
				end = "RST"
			}
			a.mu.Lock()
			a.ends = append(a.ends, end)
			a.mu.Unlock()
			return
		}
		if line == "\r\n" {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	}
}

func (a *endApp) ended() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ends...)
}

// TestDiffServerConnectionEnd compares how haproxy and lbd end a
// connection to a server that keeps it open, once its client has gone:
// after a request whose client asked to close, and after a keep-alive
// request whose client then closed. HAProxy resets its server
// connections (SO_LINGER 0) unless the server has closed first, so that
// no TIME_WAIT stays on the balancer. ("http-reuse never": by default
// HAProxy may keep such a connection idle for later requests and reset
// it when it purges its pool.)
func TestDiffServerConnectionEnd(t *testing.T) {
	ends := map[string][]string{}
	for _, impl := range []string{"haproxy", "lbd", "lbd on goroutines"} {
		if impl == "lbd on goroutines" {
			t.Setenv("LBD_EVENT_LOOP", "0")
		}
		app := startEndApp(t)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := "defaults\nmode http\nhttp-reuse never\ntimeout client 5s\ntimeout server 5s\ntimeout connect 5s\n" +
			"frontend f\nbind " + addr + "\ndefault_backend b\n" +
			"backend b\nserver s " + app.Addr + "\n"
		if impl == "haproxy" {
			startHAProxy(t, cfg, addr)
		} else {
			startLBD(t, cfg, addr)
		}
		for i, req := range []string{
			"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		} {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = io.WriteString(c, req)
			require.NoError(t, err)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err, impl)
			_ = res.Body.Close()
			c.Close()
			require.Eventually(t, func() bool { return len(app.ended()) == i+1 }, 5*time.Second, 10*time.Millisecond,
				"%s: the server connection of request %d stays open", impl, i+1)
		}
		ends[impl] = app.ended()
	}
	assert.Equal(t, ends["haproxy"], ends["lbd"])
	assert.Equal(t, ends["haproxy"], ends["lbd on goroutines"])
	assert.Equal(t, []string{"RST", "RST"}, ends["lbd"])
}

// TestDiffLayer4CheckNeverAccepted compares what a server sees of
// layer-4 health checks: HAProxy connects with quick ACKs off and resets
// before the handshake's last ACK, so that the server never accepts a
// check connection; lbd must too, and still find the server up.
func TestDiffLayer4CheckNeverAccepted(t *testing.T) {
	accepted := map[string]int{}
	for _, impl := range []string{"haproxy", "lbd"} {
		var mu sync.Mutex
		n := 0
		app := nettest.Serve(t, "tcp", "127.0.0.1:0", func(net.Conn) {
			mu.Lock()
			n++
			mu.Unlock()
		})
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := "defaults\nmode http\ntimeout client 5s\ntimeout server 5s\ntimeout connect 5s\n" +
			"frontend f\nbind " + addr + "\ndefault_backend b\n" +
			"backend b\nserver s " + app.Addr().String() + " check inter 100ms\n"
		var b *balancer
		if impl == "haproxy" {
			b = startHAProxy(t, cfg, addr)
		} else {
			b, _ = startLBD(t, cfg, addr)
		}
		// ten checks or so; the server stays up
		time.Sleep(1200 * time.Millisecond)
		mu.Lock()
		accepted[impl] = n
		mu.Unlock()
		assert.NotContains(t, b.Log.String(), "DOWN", impl)
	}
	assert.Equal(t, map[string]int{"haproxy": 0, "lbd": 0}, accepted)
}
