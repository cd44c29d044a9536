package l4

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"
)

// testNet is a small routed topology made of namespaces this test owns:
//
//	client 10.66.1.10 --- 10.66.1.1 director (VIP 10.66.1.100) 10.66.2.1 --- 10.66.2.11 rs1
//	                                                         10.66.3.1 --- 10.66.3.12 rs2
//
// The real servers' default route is the director, as in the article.
type testNet struct {
	client, director string
	rs1, rs2         string
	VIP, RS1, RS2    string
	directorFd       netns.NsHandle
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
}

func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	return string(out)
}

// execIn runs a command inside a named namespace, returning its output.
func execIn(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// nsExec runs a command inside a named namespace.
func nsExec(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return sh(t, append([]string{"ip", "netns", "exec", ns}, args...)...)
}

func newTestNet(t testing.TB) *testNet {
	requireRoot(t)
	p := fmt.Sprintf("l4t%d", os.Getpid()%100000)
	n := &testNet{client: p + "c", director: p + "d", rs1: p + "r1", rs2: p + "r2",
		VIP: "10.66.1.100", RS1: "10.66.2.11", RS2: "10.66.3.12"}
	for _, ns := range []string{n.client, n.director, n.rs1, n.rs2} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		nsExec(t, ns, "ip", "link", "set", "lo", "up")
	}
	sh(t, "ip", "link", "add", "vdc", "netns", n.director, "type", "veth", "peer", "name", "vc", "netns", n.client)
	nsExec(t, n.client, "ip", "addr", "add", "10.66.1.10/24", "dev", "vc")
	nsExec(t, n.director, "ip", "addr", "add", "10.66.1.1/24", "dev", "vdc")
	nsExec(t, n.director, "ip", "addr", "add", n.VIP+"/24", "dev", "vdc")
	sh(t, "ip", "link", "add", "vd1", "netns", n.director, "type", "veth", "peer", "name", "vr1", "netns", n.rs1)
	sh(t, "ip", "link", "add", "vd2", "netns", n.director, "type", "veth", "peer", "name", "vr2", "netns", n.rs2)
	nsExec(t, n.director, "ip", "addr", "add", "10.66.2.1/24", "dev", "vd1")
	nsExec(t, n.director, "ip", "addr", "add", "10.66.3.1/24", "dev", "vd2")
	nsExec(t, n.rs1, "ip", "addr", "add", n.RS1+"/24", "dev", "vr1")
	nsExec(t, n.rs2, "ip", "addr", "add", n.RS2+"/24", "dev", "vr2")
	for _, c := range [][]string{{n.client, "vc"}, {n.director, "vdc"}, {n.director, "vd1"}, {n.director, "vd2"}, {n.rs1, "vr1"}, {n.rs2, "vr2"}} {
		nsExec(t, c[0], "ip", "link", "set", c[1], "up")
	}
	nsExec(t, n.client, "ip", "route", "add", "default", "via", "10.66.1.1")
	nsExec(t, n.rs1, "ip", "route", "add", "default", "via", "10.66.2.1")
	nsExec(t, n.rs2, "ip", "route", "add", "default", "via", "10.66.3.1")
	nsExec(t, n.director, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	var err error
	n.directorFd, err = netns.GetFromName(n.director)
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.directorFd.Close() })
	return n
}

// inNS runs f on a locked OS thread switched into the named namespace;
// sockets f creates stay in that namespace.
func inNS(t testing.TB, ns string, f func() error) error {
	t.Helper()
	h, err := netns.GetFromName(ns)
	require.NoError(t, err)
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
	}()
	return <-errc
}

// serveWho starts an HTTP server in namespace ns on addr that answers
// "NAME PEER" (the peer address it saw). It returns a stop function.
func serveWho(t testing.TB, ns, addr, name string) (stop func()) {
	t.Helper()
	var ln net.Listener
	require.NoError(t, inNS(t, ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "%s %s\n", name, host)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once bool
	stop = func() {
		if !once {
			once = true
			_ = srv.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}
