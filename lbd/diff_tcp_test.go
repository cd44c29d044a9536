package lbd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
)

// startEcho runs a line echo server that prefixes answers with its name.
func startEcho(t *testing.T, name string) string {
	t.Helper()
	ln := nettest.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			fmt.Fprintf(c, "%s: %s\n", name, sc.Text())
		}
		fmt.Fprintf(c, "%s: bye\n", name)
	})
	return ln.Addr().String()
}

// TestDiffTCPMode proxies raw TCP: server order, payload both ways, and
// the half-close (the client's end of input reaches the server, whose
// last words reach the client). The checks run with inter 2s: a server
// starts UP and falls at its first failed check, whose timeout is inter;
// with 300 ms a loaded machine could fail one and change the order. The
// start-up probe goes to a listener of its own: a probe of the echo
// listener took a round-robin turn, or not, as the balancer saw the
// connection before or after its close (the order shifted by one in a
// loaded CI run).
func TestDiffTCPMode(t *testing.T) {
	var got [2]string
	for i, kind := range []string{"haproxy", "lbd"} {
		e1, e2, e3 := startEcho(t, "e1"), startEcho(t, "e2"), startEcho(t, "e3")
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		ready := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := "defaults\nmode tcp\ntimeout connect 2s\ntimeout client 5s\ntimeout server 5s\n" +
			"listen echo\nbind " + listen + "\nbalance roundrobin\noption tcp-check\n" +
			"server e1 " + e1 + " weight 2 check inter 2s\nserver e2 " + e2 + " check inter 2s\nserver e3 " + e3 + " backup\n" +
			"listen ready\nbind " + ready + "\nserver r " + e3 + "\n"
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, ready)
		} else {
			b, _ = startLBD(t, cfg, ready)
		}
		b.Addr = listen
		var out strings.Builder
		for j := 0; j < 6; j++ {
			c, err := net.Dial("tcp", b.Addr)
			require.NoError(t, err)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "hello %d\nsecond line\n", j)
			c.(*net.TCPConn).CloseWrite()
			all, err := io.ReadAll(c)
			require.NoError(t, err)
			c.Close()
			out.WriteString(string(all))
		}
		got[i] = out.String()
	}
	require.Equal(t, got[0], got[1])
	require.Contains(t, got[1], "e1: hello 0\ne1: second line\ne1: bye\n")
}

// TestDiffHTTPCheck compares option httpchk with http-check expect: a
// server answering the wrong status goes down with haproxy's log line.
func TestDiffHTTPCheck(t *testing.T) {
	var got [2][]string
	for i, kind := range []string{"haproxy", "lbd"} {
		good := startApp(t, "app01")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		bad := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				http.Error(w, "nope", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, `{"server":"app02"}`)
		})}
		go bad.Serve(ln)
		t.Cleanup(func() { bad.Close() })
		listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := diffDefaults + "frontend fe\nbind " + listen + "\ndefault_backend be\nbackend be\n" +
			"option httpchk GET /health\nhttp-check expect status 200\n" +
			"server app01 " + good.Addr + " check inter 200ms\nserver app02 " + ln.Addr().String() + " check inter 200ms\n"
		var b *balancer
		if kind == "haproxy" {
			b = startHAProxy(t, cfg, listen)
		} else {
			b, _ = startLBD(t, cfg, listen)
		}
		waitLog(t, b, `Server be/app02 is DOWN`, 5*time.Second)
		var seq []string
		for j := 0; j < 4; j++ {
			seq = append(seq, get(t, b.Addr, "/?nocookie=1").Seen.Server)
		}
		got[i] = append(got[i], strings.Join(seq, " "))
		for _, line := range strings.Split(b.Log.String(), "\n") {
			if j := strings.Index(line, "Server be/"); j >= 0 {
				// Drop the check duration, which varies.
				l := line[j:]
				if k := strings.Index(l, ", check duration"); k >= 0 {
					l = l[:k]
				}
				got[i] = append(got[i], l)
			}
		}
		good.Stop()
		t.Logf("%s: %q", kind, got[i])
	}
	require.Equal(t, got[0], got[1])
}
