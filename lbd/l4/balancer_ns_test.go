package l4

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nsDial is a DialFunc whose sockets live in namespace ns.
func nsDial(t testing.TB, ns string) DialFunc {
	return func(ctx context.Context, local netip.Addr, address string) (net.Conn, error) {
		var c net.Conn
		err := inNS(t, ns, func() (err error) {
			c, err = DefaultDial(ctx, local, address)
			return err
		})
		return c, err
	}
}

// TestBalancerInNamespace runs the whole L4 mode (config, datapath, checks)
// against real servers that die and come back.
func TestBalancerInNamespace(t *testing.T) {
	f := newDPFixture(t)
	conf := fmt.Sprintf(`virtual_server %s 80 {
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol tcp
    warmup 0
    retry 0
    real_server %s 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server %s 80 {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
        }
    }
}
`, f.VIP, f.RS1, f.RS2)
	cfg, err := ParseConfig("t.conf", []byte(conf))
	require.NoError(t, err)
	log, buf := testLogger()
	b := NewBalancer(cfg, f.d, BalancerOptions{Dial: nsDial(t, f.director), Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	both := func() bool {
		seen := map[string]bool{}
		for range 4 {
			name, _ := f.tryWho(t, "")
			seen[name] = true
		}
		return seen["rs1"] && seen["rs2"]
	}
	require.Eventually(t, both, 5*time.Second, 50*time.Millisecond)

	// rs1 dies (its HTTP server stops: connections are refused).
	start := time.Now()
	f.stopRS1()
	bound := 500*time.Millisecond + time.Second // delay_loop + connect_timeout
	onlyRS2 := func() bool {
		for range 2 {
			if name, err := f.tryWho(t, ""); err != nil || name != "rs2" {
				return false
			}
		}
		return true
	}
	require.Eventually(t, onlyRS2, 3*bound, 20*time.Millisecond, "log:\n%s", buf)
	took := time.Since(start)
	t.Logf("rs1 left the rotation after %v (delay_loop + connect_timeout = %v)", took, bound)
	assert.Less(t, took, bound+500*time.Millisecond)
	assert.Contains(t, buf.String(), "TCP_CHECK on service [10.66.2.11]:tcp:80 failed.")
	assert.Contains(t, buf.String(), "Removing service [10.66.2.11]:tcp:80 from VS [10.66.1.100]:tcp:80")

	// rs1 comes back.
	serveWho(t, f.rs1, f.RS1+":80", "rs1")
	require.Eventually(t, both, 3*bound, 50*time.Millisecond, "log:\n%s", buf)
	assert.Contains(t, buf.String(), "TCP connection to [10.66.2.11]:tcp:80 success.")
	assert.Contains(t, buf.String(), "Adding service [10.66.2.11]:tcp:80 to VS [10.66.1.100]:tcp:80")
}
