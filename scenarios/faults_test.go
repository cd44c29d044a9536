package scenarios

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHasListener(t *testing.T) {
	head := "  sl  local_address rem_address   st tx_queue rx_queue\n"
	assert.True(t, hasListener(head+"   0: 00000000:0050 00000000:0000 0A 00000000:00000000\n"))
	assert.False(t, hasListener(head+"   0: 0B00000A:9C40 1500000A:0050 01 00000000:00000000\n"))
	assert.False(t, hasListener(""))
}

func TestCommands(t *testing.T) {
	d := &Daemon{Kind: KindKeepalived}
	args, err := command(d, ImplGo, "/s/k.conf", "/s/bin")
	assert.NoError(t, err)
	assert.Equal(t, []string{"/s/bin/keepalived", "-f", "/s/k.conf", "-n", "-l", "-D", "-p", "/run/keepalived.pid"}, args)
	args, _ = command(d, ImplReference, "/s/k.conf", "/s/bin")
	assert.Equal(t, []string{refKeepalived, "-f", "/s/k.conf", "-n", "-l", "-D", "-p", "/run/keepalived.pid",
		"-r", "/run/keepalived_vrrp.pid", "-c", "/run/keepalived_check.pid"}, args)
	args, _ = command(&Daemon{Kind: KindHAProxy}, ImplGo, "/s/h.cfg", "/s/bin")
	assert.Equal(t, []string{"/s/bin/haproxy", "-f", "/s/h.cfg", "-db", "-p", "/run/haproxy.pid"}, args)
	args, _ = command(&Daemon{Kind: KindKeepalivedLVS}, ImplGo, "/s/k.conf", "/s/bin")
	assert.Equal(t, []string{"/s/bin/lbd", "-f", "/s/k.conf", "-n", "-l", "-D"}, args)
	_, err = command(&Daemon{Kind: KindNginx}, ImplGo, "/nonexistent/nginx.conf", "/s/bin")
	assert.Error(t, err)

	dir := t.TempDir()
	plain, own := filepath.Join(dir, "plain.conf"), filepath.Join(dir, "own.conf")
	require.NoError(t, os.WriteFile(plain, []byte("events {}\n"), 0o644))
	require.NoError(t, os.WriteFile(own, []byte("daemon off;\nevents {}\n"), 0o644))
	args, _ = command(&Daemon{Kind: KindNginx}, ImplReference, plain, "/s/bin")
	assert.Equal(t, []string{refNginx, "-c", plain, "-g", "daemon off;"}, args)
	args, _ = command(&Daemon{Kind: KindNginx}, ImplGo, own, "/s/bin")
	assert.Equal(t, []string{"/s/bin/nginx", "-c", own}, args, "no -g when the file says daemon off")
}
