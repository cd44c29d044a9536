package lbd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/internal/nettest"
)

// labappResponse is what the lab's app answers to GET /: a new session
// cookie, an X-App header and a short JSON body.
var labappResponse = func() []byte {
	body := `{"app":"app01","host":"10.0.2.11","method":"GET","uri":"/","x_real_ip":"","x_forwarded_for":"","peer":"10.0.2.31:54178","peer_ip":"10.0.2.31","headers":{}}`
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: JSESSIONID=WGGRJ43QTJ1XTI4ZW537W9\r\n" +
		"X-App: app01\r\nDate: Thu, 26 Nov 2026 06:16:22 GMT\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// fixedBackend answers every request head it reads with resp, keeping
// the connection open.
func fixedBackend(tb testing.TB, resp []byte) string {
	ln := nettest.Serve(tb, "tcp", "127.0.0.1:0", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}

// BenchmarkLoopInProcess drives lbd's event loop in this process with the
// lab benchmark's configuration (the article's backend: a prefixed
// persistence cookie and two Set-Cookie rewrites) and keep-alive
// requests carrying the cookie, over a few connections. It reports the
// heap allocations and bytes a request costs, nearly all the loop's: the
// client and app here allocate next to nothing. Whatever b.N, it sends at
// least minLoopRequests, so that -benchtime 1x (make bench) measures the
// steady state. For a profile: go test -run '^$' -bench LoopInProcess
// -cpuprofile cpu.out ./lbd
func BenchmarkLoopInProcess(b *testing.B) {
	const minLoopRequests, conns = 20000, 4
	apps := []string{fixedBackend(b, labappResponse), fixedBackend(b, labappResponse)}
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	startLBD(b, benchConfig(listen, apps), listen)
	req := []byte("GET / HTTP/1.1\r\nHost: www.example.com\r\nCookie: JSESSIONID=app01~0123456789abcdef\r\n\r\n")
	total := max(b.N, minLoopRequests)
	// a first round fills the loop's pools and the connections
	require.NoError(b, keepAliveRequests(listen, req, 100))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		n := total / conns
		if i < total%conns {
			n++
		}
		wg.Go(func() {
			if err := keepAliveRequests(listen, req, n); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/req")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(total), "B/req")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
}

// keepAliveRequests sends req n times on one connection, each once the
// previous answer has arrived whole (Content-Length framing).
func keepAliveRequests(addr string, req []byte, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	var head []byte
	for range n {
		if _, err := c.Write(req); err != nil {
			return err
		}
		length := -1
		head = head[:0]
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return err
			}
			head = append(head, line...)
			if len(line) <= 2 {
				break
			}
			if name, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
				length = 0
				for _, d := range bytes.TrimSpace(v) {
					length = 10*length + int(d-'0')
				}
			}
		}
		if length < 0 {
			return fmt.Errorf("a response without Content-Length in %q)", head)
		}
		if _, err := br.Discard(length); err != nil {
			return err
		}
	}
	return nil
}
