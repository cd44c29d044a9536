package lbd

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/internal/wrkbench"
	"halab/lab"
	"halab/lab/capture"
)

// labTopology puts the article's balancer between a client LAN and the
// application LAN, with the addresses of testdata/article.cfg.
const labTopology = `
name: lb1
lans:
  - name: front
  - name: back
nodes:
  - name: client
    role: client
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.10/24]}
  - name: haproxy01
    role: balancer
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.31/24]}
      - {name: eth1, lan: back, addresses: [10.0.2.31/24]}
  - name: app01
    role: app
    interfaces:
      - {name: eth0, lan: back, addresses: [10.0.2.11/24]}
  - name: app02
    role: app
    interfaces:
      - {name: eth0, lan: back, addresses: [10.0.2.12/24]}
`

// curlReply is one answer as the client node saw it.
type curlReply struct {
	status     string
	setCookies []string
	app        string
}

var appField = regexp.MustCompile(`"app":"([^"]+)"`)

func curl(t *testing.T, ctx context.Context, n *lab.Node, url string, hdrs ...string) curlReply {
	t.Helper()
	args := []string{"curl", "-s", "-i", "--max-time", "10", url}
	for _, h := range hdrs {
		args = append(args, "-H", h)
	}
	out, err := n.Run(ctx, args...)
	require.NoError(t, err, out)
	var r curlReply
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if r.status == "" {
			r.status = line
			continue
		}
		if v, ok := strings.CutPrefix(strings.ToLower(line), "set-cookie: "); ok {
			r.setCookies = append(r.setCookies, line[len(line)-len(v):])
		}
	}
	if m := appField.FindStringSubmatch(out); m != nil {
		r.app = m[1]
	}
	return r
}

// TestLabArticle runs the article's haproxy.cfg (testdata/article.cfg,
// verbatim) under lbd on the balancer node, and the same configuration
// with "bind" under Debian's haproxy, and checks the client sees the same:
// round robin, JSESSIONID=app0N~value; HttpOnly;; Secure, stickiness, and
// the reaction to an app node going away.
func TestLabArticle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root")
	}
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Skip("haproxy is not installed")
	}
	bin := gobuild.ForTest(t, "../cmd/lbd", "../cmd/labapp")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topo, err := lab.ParseTopology("lb1.yaml", []byte(labTopology))
	require.NoError(t, err)
	l, err := lab.Up(ctx, topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })

	article, err := os.ReadFile("haproxycfg/testdata/article.cfg")
	require.NoError(t, err)
	lbdCfg := filepath.Join(l.SharedDir(), "lbd.cfg")
	require.NoError(t, os.WriteFile(lbdCfg, article, 0o644))
	hapCfg := filepath.Join(l.SharedDir(), "haproxy.cfg")
	withBind := strings.Replace(string(article), "frontend HTTP-Service *:8080", "frontend HTTP-Service\nbind *:8080", 1)
	// haproxy would chroot and drop privileges to a user the node lacks.
	withBind = regexp.MustCompile(`(?m)^\s*(chroot|user|group|daemon|stats socket).*$`).ReplaceAllString(withBind, "")
	require.NoError(t, os.WriteFile(hapCfg, []byte(withBind), 0o644))

	apps := map[string]*lab.Process{}
	startApp := func(name string) {
		p, err := l.MustNode(name).Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(bin, "labapp"), "-listen", ":80"}})
		require.NoError(t, err)
		apps[name] = p
	}
	startApp("app01")
	startApp("app02")
	client := l.MustNode("client")
	balancer := l.MustNode("haproxy01")
	url := "http://10.0.1.31:8080/index.php"

	front, back := netip.MustParseAddr("10.0.1.31"), netip.MustParseAddr("10.0.2.31")
	run := func(name string, args []string) (out []string, closing string) {
		// both LANs as the balancer sees them: the front for how it ends
		// a connection, the back for its health checks
		g, err := capture.StartGroup(ctx, []capture.Spec{
			{Node: "haproxy01", Iface: "eth0", NetNS: balancer.NetNSPath()},
			{Node: "haproxy01", Iface: "eth1", NetNS: balancer.NetNSPath()},
		})
		require.NoError(t, err)
		defer g.Stop()
		p, err := balancer.Start(ctx, lab.ProcSpec{Name: name, Args: args})
		require.NoError(t, err)
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			_ = p.Stop(sctx)
		}()
		// Wait for the listener with a bare TCP connection, which moves
		// no balancer state.
		for i := 0; ; i++ {
			if _, err := client.Run(ctx, "bash", "-c", "exec 3<>/dev/tcp/10.0.1.31/8080"); err == nil {
				break
			}
			require.Less(t, i, 100, "%s does not answer", name)
			time.Sleep(100 * time.Millisecond)
		}
		var seq []string
		var firstCookie string
		for i := 0; i < 6; i++ {
			r := curl(t, ctx, client, url)
			seq = append(seq, r.app)
			require.Len(t, r.setCookies, 1, name)
			if i == 0 {
				firstCookie = r.setCookies[0]
			}
		}
		out = append(out, "sequence: "+strings.Join(seq, " "))
		assert.Regexp(t, `^JSESSIONID=(app01|app02)~[0-9A-Za-z]+; HttpOnly;; Secure$`, firstCookie, name)
		out = append(out, "set-cookie: "+regexp.MustCompile(`~[0-9A-Za-z]+`).ReplaceAllString(firstCookie, "~<v>"))
		ck := strings.SplitN(firstCookie, ";", 2)[0]
		for i := 0; i < 3; i++ {
			out = append(out, "sticky: "+curl(t, ctx, client, url, "Cookie: "+ck).app)
		}
		// a request that asks to close: how the balancer's side ends,
		// the last of the client's connections
		out = append(out, "close: "+curl(t, ctx, client, url, "Cookie: "+ck, "Connection: close").app)
		for i := 0; closing == ""; i++ {
			require.Less(t, i, 50, "%s: the closed connection is not in the capture", name)
			time.Sleep(100 * time.Millisecond)
			conns := capture.Conns(g.Packets(), front)
			if len(conns) > 0 {
				closing = conns[len(conns)-1].Closing()
			}
		}
		// a layer-4 check (option tcp-check, no rules): the balancer
		// resets before the handshake's last ACK, so that the app never
		// accepts it (every 2 s: one is there within 5)
		var flow string
		for i := 0; flow == ""; i++ {
			require.Less(t, i, 50, "%s: no complete health check on the back LAN", name)
			time.Sleep(100 * time.Millisecond)
			flow = checkFlow(g.Packets(), back)
		}
		out = append(out, "check: "+flow)
		return out, closing
	}
	hap, hapClosing := run("haproxy", []string{haproxyBin, "-db", "-f", hapCfg})
	ours, ourClosing := run("lbd", []string{filepath.Join(bin, "lbd"), "-db", "-f", lbdCfg})
	assert.Equal(t, hap, ours)
	assert.Equal(t, "check: S S. R.", ours[len(ours)-1])
	// a deliberate difference (DIFFERENCES.md): lbd's FIN rides on the
	// response's last segment, where haproxy sends it on its own
	assert.Equal(t, "P.+data F.", hapClosing, "haproxy")
	assert.Equal(t, "F.+data", ourClosing, "lbd")
	assert.Equal(t, "sequence: app01 app02 app01 app02 app01 app02", ours[0])

	// App02 goes away: lbd's tcp-check takes it out (default inter 2s,
	// it falls at the first failure) and every request goes to app01,
	// including those sticking to app02 (redispatch, new cookie).
	p, err := balancer.Start(ctx, lab.ProcSpec{Name: "lbd2", Args: []string{filepath.Join(bin, "lbd"), "-db", "-f", lbdCfg}})
	require.NoError(t, err)
	defer p.Stop(context.Background())
	time.Sleep(500 * time.Millisecond)
	r := curl(t, ctx, client, url)
	r = curl(t, ctx, client, url)
	require.Equal(t, "app02", r.app)
	ck := strings.SplitN(r.setCookies[0], ";", 2)[0]
	require.NoError(t, apps["app02"].Signal(syscall.SIGKILL))
	r = curl(t, ctx, client, url, "Cookie: "+ck)
	if r.app != "app01" || len(r.setCookies) == 0 {
		logs, _ := os.ReadFile(filepath.Join(balancer.LogDir(), "lbd2.log"))
		t.Fatalf("sticky request to the dead app: %+v\nlbd log:\n%s", r, logs)
	}
	assert.True(t, strings.HasPrefix(r.setCookies[0], "JSESSIONID=app01~"), r.setCookies)
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs, _ := os.ReadFile(filepath.Join(balancer.LogDir(), "lbd2.log"))
		if strings.Contains(string(logs), "Server HTTP-Service/App02 is DOWN, reason: Layer4 connection problem") {
			break
		}
		require.True(t, time.Now().Before(deadline), "no DOWN log line:\n%s", logs)
		time.Sleep(200 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		assert.Equal(t, "app01", curl(t, ctx, client, url).app)
	}
}

// checkFlow returns the segments of the first health-check connection from
// lb that has ended in packets, as tcpdump's flags ("S S. R."): the first
// connection of lb's that carries no payload from lb and has seen a FIN
// or a reset; "" while there is none.
func checkFlow(packets []capture.Packet, lb netip.Addr) string {
	for _, c := range capture.Conns(packets, lb) {
		if !c.Sent() && c.Ended() {
			return c.Flags()
		}
	}
	return ""
}

// TestLabServerConnectionReuse runs three clients one after the other
// through the balancer node, each sending three requests over one
// connection, under haproxy (one thread) and lbd with http-reuse safe, and
// compares the server connections the app saw them on (numbered by the
// balancer's source port, in the order they came): a client's first
// request gets a connection of its own, closed after it while the first
// one waits idle, and its later requests take that one.
func TestLabServerConnectionReuse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root")
	}
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Skip("haproxy is not installed")
	}
	bin := gobuild.ForTest(t, "../cmd/lbd", "../cmd/labapp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topo, err := lab.ParseTopology("lb1r.yaml", []byte(strings.Replace(labTopology, "name: lb1", "name: lb1r", 1)))
	require.NoError(t, err)
	l, err := lab.Up(ctx, topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	_, err = l.MustNode("app01").Start(ctx, lab.ProcSpec{Name: "labapp", Args: []string{filepath.Join(bin, "labapp"), "-listen", ":80"}})
	require.NoError(t, err)
	cfg := filepath.Join(l.SharedDir(), "reuse.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte("global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 5s\n"+
		"    timeout client 30s\n    timeout server 30s\nlisten web\n    bind *:8080\n    http-reuse safe\n"+
		"    server App01 10.0.2.11:80\n"), 0o644))
	client, balancer := l.MustNode("client"), l.MustNode("haproxy01")
	peer := regexp.MustCompile(`"peer":"10\.0\.2\.31:(\d+)"`)
	run := func(name, bin string) []int {
		p, err := balancer.Start(ctx, lab.ProcSpec{Name: name, Args: []string{bin, "-db", "-f", cfg}})
		require.NoError(t, err)
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			_ = p.Stop(sctx)
		}()
		require.NoError(t, wrkbench.WaitListening(ctx, client, "10.0.1.31:8080"))
		num := map[string]int{}
		var seq []int
		for range 3 {
			url := "http://10.0.1.31:8080/"
			out, err := client.Run(ctx, "curl", "-s", "--max-time", "10", url, url, url)
			require.NoError(t, err, out)
			ms := peer.FindAllStringSubmatch(out, -1)
			require.Len(t, ms, 3, "%s: %s", name, out)
			for _, m := range ms {
				if _, ok := num[m[1]]; !ok {
					num[m[1]] = len(num) + 1
				}
				seq = append(seq, num[m[1]])
			}
			time.Sleep(100 * time.Millisecond) // the client's goodbye reaches the balancer
		}
		return seq
	}
	hap := run("haproxy", haproxyBin)
	ours := run("lbd", filepath.Join(bin, "lbd"))
	assert.Equal(t, hap, ours, "server connections (haproxy, lbd)")
	assert.Equal(t, []int{1, 1, 1, 2, 1, 1, 3, 1, 1}, ours)
}
