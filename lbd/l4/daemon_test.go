package l4

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunDaemonReloadAndCleanup(t *testing.T) {
	n := newTestNet(t)
	serveWho(t, n.rs1, n.RS1+":80", "rs1")
	serveWho(t, n.rs2, n.RS2+":80", "rs2")
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	pid := filepath.Join(dir, "lbd.pid")
	write := func(reals ...string) {
		var b strings.Builder
		fmt.Fprintf(&b, "virtual_server %s 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n", n.VIP)
		for _, r := range reals {
			fmt.Fprintf(&b, " real_server %s 80 {\n  TCP_CHECK {\n   connect_timeout 1\n  }\n }\n", r)
		}
		b.WriteString("}\n")
		require.NoError(t, os.WriteFile(conf, []byte(b.String()), 0o600))
	}
	write(n.RS1)
	log, buf := testLogger()
	reload := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunDaemon(ctx, DaemonOptions{ConfigFile: conf, PIDFile: pid, Logger: log, Reload: reload,
			Datapath: DatapathOptions{NetNSFd: int(n.directorFd)}, Dial: nsDial(t, n.director)})
	}()
	t.Cleanup(cancel)

	listChain := func() string {
		out, _ := execIn(n.director, "nft", "list", "table", "ip", DefaultTable)
		return out
	}
	require.Eventually(t, func() bool { return strings.Contains(listChain(), "dnat to "+n.RS1+":80") }, 5*time.Second, 20*time.Millisecond)
	b, err := os.ReadFile(pid)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d\n", os.Getpid()), string(b))

	// A broken config is refused on reload; the running one stays.
	require.NoError(t, os.WriteFile(conf, []byte("virtual_server 10.0.0.1 80 {\nlb_kind DR\n}\n"), 0o600))
	reload <- struct{}{}
	require.Eventually(t, func() bool { return strings.Contains(buf.String(), "Reload failed") }, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, listChain(), "dnat to "+n.RS1+":80")

	write(n.RS1, n.RS2)
	reload <- struct{}{}
	require.Eventually(t, func() bool { return strings.Contains(listChain(), "dnat to "+n.RS2+":80") }, 5*time.Second, 20*time.Millisecond)

	cancel()
	require.NoError(t, <-done)
	out, _ := execIn(n.director, "nft", "list", "ruleset")
	assert.NotContains(t, out, DefaultTable, "table removed on exit")
	assert.NoFileExists(t, pid)
	assert.Contains(t, buf.String(), "Removed nftables table")
}
