package l4

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/internal/gobuild"
	"halab/lab"
	"halab/lab/capture"
)

// selfDaemonArg makes this test binary run lbd's L4 mode (RunDaemon with
// keepalived's -f FILE) inside lab nodes while cmd/lbd has no main yet.
const selfDaemonArg = "lbd-l4-daemon"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == selfDaemonArg {
		os.Exit(selfDaemon(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func selfDaemon(args []string) int {
	conf := ""
	for i, a := range args {
		if a == "-f" && i+1 < len(args) {
			conf = args[i+1]
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	if err := RunDaemon(ctx, DaemonOptions{ConfigFile: conf}); err != nil {
		fmt.Fprintln(os.Stderr, "lbd:", err)
		return 1
	}
	return 0
}

// The article's active/active first layer, reduced to one director: the
// client on the edge LAN, lvs01 between edge and front (it holds the service
// VIP 10.0.0.100 and the nginx gateway 10.0.1.1 that vrrpd would manage),
// nginx01 and nginx02 on front with their default route via the director.
const labTopology = `
name: l4a
lans: [edge, front]
nodes:
  - name: client
    role: client
    interfaces:
      - {name: eth0, lan: edge, addresses: [10.0.0.10/24]}
  - name: lvs01
    role: director
    interfaces:
      - {name: eth0, lan: edge, addresses: [10.0.0.2/24, 10.0.0.100/24]}
      - {name: eth1, lan: front, addresses: [10.0.1.2/24, 10.0.1.1/24]}
    sysctls:
      net.ipv4.ip_forward: "1"
  - name: nginx01
    role: proxy
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.11/24]}
    routes:
      - {to: default, via: 10.0.1.1}
  - name: nginx02
    role: proxy
    interfaces:
      - {name: eth0, lan: front, addresses: [10.0.1.12/24]}
    routes:
      - {to: default, via: 10.0.1.1}
`

// labConf is the article's virtual_server with addresses filled in, and
// quick timers (delay_loop 1, connect_timeout 2, retry 0).
const labConf = `
virtual_server 10.0.0.100 80 {
delay_loop 1
lb_algo rr
lb_kind NAT
protocol tcp
retry 0
warmup 0
real_server 10.0.1.11 80 {
TCP_CHECK {
connect_timeout 2
}
}
real_server 10.0.1.12 80 {
TCP_CHECK {
connect_timeout 2
}
}
}
`

type l4Lab struct {
	top    *testing.T // owns the lab's processes (not a subtest)
	l      *lab.Lab
	shared string
	lbdCmd []string // binary and leading arguments
	apps   map[string]*lab.Process
}

func requireLab(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test")
	}
	requireRoot(t)
}

func upL4Lab(t *testing.T) *l4Lab { return upLab(t, "l4a", labTopology) }

// upLab brings up a lab whose nginx01 and nginx02 run labapp on port 80, and
// puts labapp and lbd binaries in its shared directory.
func upLab(t *testing.T, name, topology string) *l4Lab {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = lab.Down(ctx, name) // leftovers of a killed run
	topo, err := lab.ParseTopology(name+".yaml", []byte(topology))
	require.NoError(t, err)
	l, err := lab.Up(ctx, topo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	x := &l4Lab{top: t, l: l, shared: l.SharedDir(), apps: map[string]*lab.Process{}}

	require.NoError(t, gobuild.Build(filepath.Join(x.shared, "labapp"), "halab/cmd/labapp"))
	// The real binary when cmd/lbd builds; else this test binary runs
	// RunDaemon, the same code behind cmd/lbd's L4 mode.
	if err := gobuild.Build(filepath.Join(x.shared, "lbd"), "halab/cmd/lbd"); err == nil {
		x.lbdCmd = []string{filepath.Join(x.shared, "lbd")}
	} else {
		t.Logf("using the test binary as lbd: %v", err)
		self, err := os.Executable()
		require.NoError(t, err)
		data, err := os.ReadFile(self)
		require.NoError(t, err)
		bin := filepath.Join(x.shared, "lbd-test")
		require.NoError(t, os.WriteFile(bin, data, 0o755))
		x.lbdCmd = []string{bin, selfDaemonArg}
	}
	for _, n := range []string{"nginx01", "nginx02"} {
		x.startApp(t, n)
	}
	return x
}

func (x *l4Lab) startApp(t *testing.T, node string) {
	t.Helper()
	p, err := x.l.MustNode(node).Start(context.Background(), lab.ProcSpec{Name: "labapp",
		Args: []string{filepath.Join(x.shared, "labapp"), "-listen", ":80"}})
	require.NoError(t, err)
	x.apps[node] = p
	x.top.Cleanup(func() { _ = p.Stop(context.Background()) })
	require.Eventually(t, func() bool {
		return x.l.MustNode("lvs01").Do(func() error {
			c, err := net.DialTimeout("tcp4", nodeAddr(node)+":80", time.Second)
			if err == nil {
				c.Close()
			}
			return err
		}) == nil
	}, 10*time.Second, 50*time.Millisecond, "labapp on %s", node)
}

func nodeAddr(node string) string {
	return map[string]string{"nginx01": "10.0.1.11", "nginx02": "10.0.1.12"}[node]
}

func (x *l4Lab) startLBD(t *testing.T, conf string) *lab.Process {
	return x.startLBDOn(t, "lvs01", conf)
}

// startLBDOn writes conf as the node's keepalived.conf and starts lbd with
// keepalived's flags, returning once it has programmed its table.
func (x *l4Lab) startLBDOn(t *testing.T, node, conf string) *lab.Process {
	t.Helper()
	path := x.writeConf(t, node, conf)
	args := append(append([]string{}, x.lbdCmd...), "-f", path, "-n", "-l", "-D")
	// Ready means this lbd logged that it programmed its table (a table left
	// by a killed lbd proves nothing).
	const ready = "Activating VS"
	before := strings.Count(x.logOf(node, "lbd"), ready)
	p, err := x.l.MustNode(node).Start(context.Background(), lab.ProcSpec{Name: "lbd", Args: args})
	require.NoError(t, err)
	x.top.Cleanup(func() { _ = p.Stop(context.Background()) })
	require.Eventually(t, func() bool { return strings.Count(x.logOf(node, "lbd"), ready) > before },
		10*time.Second, 20*time.Millisecond, "lbd log:\n%s", x.logOf(node, "lbd"))
	require.Contains(t, x.rulesetOf(t, node), "table ip "+DefaultTable)
	return p
}

func (x *l4Lab) writeConf(t *testing.T, node, conf string) string {
	path := filepath.Join(x.shared, node+"-keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	return path
}

func (x *l4Lab) ruleset(t *testing.T) string { return x.rulesetOf(t, "lvs01") }

func (x *l4Lab) rulesetOf(t *testing.T, node string) string {
	out, err := x.l.MustNode(node).Run(context.Background(), "nft", "list", "ruleset")
	require.NoError(t, err, out)
	return out
}

func (x *l4Lab) lbdLog(t *testing.T) string { return x.logOf("lvs01", "lbd") }

func (x *l4Lab) logOf(node, proc string) string {
	b, _ := os.ReadFile(filepath.Join(x.l.MustNode(node).LogDir(), proc+".log"))
	return string(b)
}

// dialVIP opens a connection from the client to the VIP.
func (x *l4Lab) dialVIP() (net.Conn, error) {
	var c net.Conn
	err := x.l.MustNode("client").Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", "10.0.0.100:80", 3*time.Second)
		return err
	})
	return c, err
}

// seen is the part of labapp's answer the tests look at.
type seen struct {
	App    string `json:"app"`
	PeerIP string `json:"peer_ip"`
}

// ask sends one request on c.
func ask(c net.Conn) (seen, error) {
	var s seen
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return s, err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
		return s, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

// get makes one request on a new connection through the VIP.
func (x *l4Lab) get() (seen, error) {
	c, err := x.dialVIP()
	if err != nil {
		return seen{}, err
	}
	defer c.Close()
	return ask(c)
}

func TestLabActiveActiveL4(t *testing.T) {
	x := upL4Lab(t)
	p := x.startLBD(t, labConf)

	t.Run("round robin, client address preserved", func(t *testing.T) {
		var apps []string
		for range 4 {
			s, err := x.get()
			require.NoError(t, err)
			assert.Equal(t, "10.0.0.10", s.PeerIP, "the app sees the client's own address")
			apps = append(apps, s.App)
		}
		assert.ElementsMatch(t, []string{"nginx01", "nginx01", "nginx02", "nginx02"}, apps)
		assert.NotEqual(t, apps[0], apps[1])
		assert.Equal(t, apps[0], apps[2])
		assert.NotContains(t, x.ruleset(t), "masquerade")
	})

	t.Run("six-packet handshake on the director", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ns := x.l.MustNode("lvs01").NetNSPath()
		g, err := capture.StartGroup(ctx, []capture.Spec{
			{Node: "lvs01", Iface: "eth0", NetNS: ns},
			{Node: "lvs01", Iface: "eth1", NetNS: ns},
		})
		require.NoError(t, err)
		s, err := x.get()
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond)
		_, err = g.Stop()
		require.NoError(t, err)
		client, vip := netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.100")
		rs := netip.MustParseAddr(nodeAddr(s.App))
		steps := []capture.Pattern{
			capture.TCPSegment(capture.FlagSYN).From(client).To(vip).DstPort(80).On("lvs01", "eth0").Named("1 SYN client > VIP"),
			capture.TCPSegment(capture.FlagSYN).From(client).To(rs).DstPort(80).On("lvs01", "eth1").Named("2 SYN forwarded, client source unchanged"),
			capture.TCPSegment(capture.FlagSYN|capture.FlagACK).From(rs).To(client).On("lvs01", "eth1").Named("3 SYN-ACK from nginx"),
			capture.TCPSegment(capture.FlagSYN|capture.FlagACK).From(vip).To(client).On("lvs01", "eth0").Named("4 SYN-ACK from VIP"),
			capture.TCPSegment(capture.FlagACK).From(client).To(vip).On("lvs01", "eth0").Named("5 ACK client"),
			capture.TCPSegment(capture.FlagACK).From(client).To(rs).On("lvs01", "eth1").Named("6 ACK forwarded"),
		}
		require.NoError(t, capture.ExpectSequence(g.Packets(), steps, 5*time.Second))
		for _, pk := range capture.Select(g.Packets(), capture.TCPSegment(capture.FlagSYN)) {
			t.Log(capture.FormatLine(&pk))
		}
	})

	t.Run("established connection survives a map update", func(t *testing.T) {
		c, err := x.dialVIP()
		require.NoError(t, err)
		defer c.Close()
		first, err := ask(c)
		require.NoError(t, err)
		other := "nginx01"
		if first.App == "nginx01" {
			other = "nginx02"
		}
		// The other real server dies: the map is rewritten without it.
		require.NoError(t, x.apps[other].Stop(context.Background()))
		require.Eventually(t, func() bool {
			return strings.Contains(x.lbdLog(t), "Removing service ["+nodeAddr(other)+"]:tcp:80")
		}, 10*time.Second, 50*time.Millisecond)
		again, err := ask(c)
		require.NoError(t, err)
		assert.Equal(t, first.App, again.App)
		x.startApp(t, other)
		require.Eventually(t, func() bool {
			return strings.Contains(x.lbdLog(t), "Adding service ["+nodeAddr(other)+"]:tcp:80")
		}, 10*time.Second, 50*time.Millisecond)
		again, err = ask(c)
		require.NoError(t, err)
		assert.Equal(t, first.App, again.App)
	})

	t.Run("dead real server leaves the rotation and comes back", func(t *testing.T) {
		bound := 1*time.Second + 2*time.Second // delay_loop + connect_timeout
		require.NoError(t, x.apps["nginx01"].Stop(context.Background()))
		start := time.Now()
		onlyNginx02 := func() bool {
			for range 2 {
				if s, err := x.get(); err != nil || s.App != "nginx02" {
					return false
				}
			}
			return true
		}
		require.Eventually(t, onlyNginx02, 3*bound, 20*time.Millisecond, "lbd log:\n%s", x.lbdLog(t))
		took := time.Since(start)
		t.Logf("nginx01 left the rotation %v after it died (delay_loop + connect_timeout = %v)", took.Round(time.Millisecond), bound)
		assert.Less(t, took, bound+time.Second)
		assert.Contains(t, x.lbdLog(t), "TCP_CHECK on service [10.0.1.11]:tcp:80 failed.")

		x.startApp(t, "nginx01")
		start = time.Now()
		require.Eventually(t, func() bool {
			s1, err1 := x.get()
			s2, err2 := x.get()
			return err1 == nil && err2 == nil && s1.App != s2.App
		}, 3*bound, 20*time.Millisecond)
		t.Logf("nginx01 back in the rotation %v after it restarted", time.Since(start).Round(time.Millisecond))
		assert.Contains(t, x.lbdLog(t), "TCP connection to [10.0.1.11]:tcp:80 success.")
	})

	t.Run("SIGHUP reloads keepalived.conf", func(t *testing.T) {
		wrr := strings.Replace(strings.Replace(labConf, "lb_algo rr", "lb_algo wrr", 1),
			"real_server 10.0.1.11 80 {", "real_server 10.0.1.11 80 {\nweight 3", 1)
		x.writeConf(t, "lvs01", wrr)
		require.NoError(t, p.Signal(syscall.SIGHUP))
		require.Eventually(t, func() bool { return strings.Count(x.lbdLog(t), "Activating VS") >= 2 },
			10*time.Second, 20*time.Millisecond, "lbd log:\n%s", x.lbdLog(t))
		var apps []string
		for range 8 {
			s, err := x.get()
			require.NoError(t, err)
			apps = append(apps, s.App)
		}
		assert.Equal(t, []string{"nginx01", "nginx01", "nginx01", "nginx02", "nginx01", "nginx01", "nginx01", "nginx02"}, apps,
			"ruleset:\n%s\nlbd log:\n%s", x.ruleset(t), x.lbdLog(t))
	})

	t.Run("SIGTERM removes the table; a SIGKILLed lbd's table is replaced", func(t *testing.T) {
		require.NoError(t, p.Signal(syscall.SIGTERM))
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("lbd did not stop on SIGTERM")
		}
		assert.Equal(t, 0, p.ExitCode())
		assert.NotContains(t, x.ruleset(t), DefaultTable)

		p2 := x.startLBD(t, labConf)
		require.NoError(t, p2.Signal(syscall.SIGKILL))
		<-p2.Done()
		assert.Contains(t, x.ruleset(t), DefaultTable, "a SIGKILLed lbd cannot clean up")
		out, err := x.l.MustNode("lvs01").Run(context.Background(), "nft", "add", "chain", "ip", DefaultTable, "leftover_marker")
		require.NoError(t, err, out)
		p3 := x.startLBD(t, labConf)
		assert.NotContains(t, x.ruleset(t), "leftover_marker", "the leftover table was replaced")
		s, err := x.get()
		require.NoError(t, err)
		assert.Equal(t, "10.0.0.10", s.PeerIP)
		require.NoError(t, p3.Stop(context.Background()))
		assert.NotContains(t, x.ruleset(t), DefaultTable)
	})
}
