package lbd

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"halab/internal/syncbuf"
	"halab/lbd/haproxycfg"
)

const haproxyBin = "/usr/sbin/haproxy"

// appSeen is what a test application server reports about a request.
type appSeen struct {
	Server  string              `json:"server"`
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
}

// testApp is a small application server like the article's PHP page: it
// sets JSESSIONID to a random value when the client has none, and echoes
// what it saw as JSON.
type testApp struct {
	Name string
	Addr string
	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
}

func startApp(t *testing.T, name string) *testApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &testApp{Name: name, Addr: ln.Addr().String()}
	a.serve(ln)
	t.Cleanup(a.Stop)
	return a
}

func (a *testApp) serve(ln net.Listener) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("JSESSIONID"); err != nil && r.URL.Query().Get("nocookie") == "" {
			var b [8]byte
			rand.Read(b[:])
			w.Header().Add("Set-Cookie", "JSESSIONID="+hex.EncodeToString(b[:]))
		}
		if v := r.URL.Query().Get("cc"); v != "" {
			w.Header().Set("Cache-Control", v)
		}
		hdr := map[string][]string{}
		for k, v := range r.Header {
			hdr[strings.ToLower(k)] = v
		}
		json.NewEncoder(w).Encode(appSeen{Server: a.Name, Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: hdr})
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	a.mu.Lock()
	a.srv, a.ln = srv, ln
	a.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: the server is dead.
func (a *testApp) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		a.srv.Close()
		a.srv = nil
	}
}

// Restart listens again on the same address.
func (a *testApp) Restart(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", a.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	a.serve(ln)
}

// freePort returns a loopback port free at the time of the call.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// balancer is one system under test: haproxy or lbd, with the same
// configuration text, listening on Addr.
type balancer struct {
	Name string
	Addr string
	Log  *syncbuf.Buffer
}

// startHAProxy runs Debian's haproxy in the foreground on cfgText.
func startHAProxy(t *testing.T, cfgText, addr string) *balancer {
	t.Helper()
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Skip("haproxy is not installed")
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(path, []byte(cfgText), 0o644))
	b := &balancer{Name: "haproxy", Addr: addr, Log: &syncbuf.Buffer{}}
	cmd := exec.Command(haproxyBin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitPort(t, addr)
	return b
}

// startLBD runs lbd in-process on cfgText.
func startLBD(t testing.TB, cfgText, addr string) (*balancer, *Instance) {
	t.Helper()
	cfg, err := haproxycfg.Parse([]haproxycfg.Source{{Name: "lbd.cfg", Data: []byte(cfgText)}}, nil)
	require.NoError(t, err)
	b := &balancer{Name: "lbd", Addr: addr, Log: &syncbuf.Buffer{}}
	in, err := New(cfg, slog.New(NewHAProxyHandler(b.Log, slog.LevelInfo)))
	require.NoError(t, err)
	require.NoError(t, in.Listen(nil))
	in.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		in.Shutdown(ctx)
	})
	waitPort(t, addr)
	return b, in
}

// reply is what the client saw of one exchange.
type reply struct {
	Status  int
	Headers []string // "name: value" in order, without date
	Seen    appSeen
}

// get sends one request on a new connection and returns the reply with
// raw header order preserved.
func get(t *testing.T, addr, uri string, hdrs ...string) reply {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	req := "GET " + uri + " HTTP/1.1\r\n"
	host := "host: test.example\r\n"
	extra := ""
	for _, h := range hdrs {
		if strings.HasPrefix(h, "host: ") {
			host = h + "\r\n"
			continue
		}
		extra += h + "\r\n"
	}
	req += host + "user-agent: difftest\r\n" + extra
	req += "connection: close\r\n\r\n"
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := ReadResponse(br, "GET")
	require.NoError(t, err, "reading response from %s", addr)
	var r reply
	r.Status = resp.Status
	for _, f := range resp.Header {
		if strings.EqualFold(f.Name, "date") {
			continue
		}
		r.Headers = append(r.Headers, strings.ToLower(f.Name)+": "+f.Value)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.Status == 200 {
		json.Unmarshal(body, &r.Seen)
	}
	return r
}

// setCookies returns the Set-Cookie values of a reply.
func (r reply) setCookies() []string {
	var out []string
	for _, h := range r.Headers {
		if v, ok := strings.CutPrefix(h, "set-cookie: "); ok {
			out = append(out, v)
		}
	}
	return out
}

// normalize hides the random part of JSESSIONID values.
func normalize(s string) string {
	i := strings.Index(s, "JSESSIONID=")
	if i < 0 {
		return s
	}
	j := i + len("JSESSIONID=")
	if k := strings.IndexByte(s[j:], '~'); k >= 0 && k < 10 {
		j += k + 1
	}
	end := j
	for end < len(s) && strings.IndexByte("0123456789abcdef", s[end]) >= 0 {
		end++
	}
	return s[:j] + "<v>" + s[end:]
}

func sortedKeys(m map[string][]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func fmtSeen(s appSeen) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s host=%s", s.Server, s.Method, s.URI, s.Host)
	for _, k := range sortedKeys(s.Headers) {
		fmt.Fprintf(&b, " | %s=%s", k, normalize(strings.Join(s.Headers[k], ",")))
	}
	return b.String()
}
