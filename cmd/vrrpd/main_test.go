package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	switch os.Getenv(testRoleEnv) {
	case "fake-child":
		os.Exit(fakeChild())
	case "fake-parent":
		os.Exit(fakeParent())
	}
	os.Exit(m.Run())
}

func TestExpandShort(t *testing.T) {
	assert.Equal(t, []string{"-n", "-l", "-D", "-f", "x", "--dump"}, expandShort([]string{"-nlD", "-f", "x", "--dump"}))
	assert.Equal(t, []string{"-fx"}, expandShort([]string{"-fx"}))
}

func TestConfigTestAndDump(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	require.NoError(t, os.WriteFile(good, []byte("vrrp_instance V {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n 10.9.9.9/24\n }\n}\n"), 0o644))
	warn := filepath.Join(dir, "warn.conf")
	require.NoError(t, os.WriteFile(warn, []byte("vrrp_instance V {\n interface eth0\n virtual_router_id 5\n bogus\n virtual_ipaddress {\n 10.9.9.9\n }\n}\n"), 0o644))
	bad := filepath.Join(dir, "bad.conf")
	require.NoError(t, os.WriteFile(bad, []byte("vrrp_instance V {\n interface eth0\n virtual_router_id 300\n}\n"), 0o644))

	var out, errb bytes.Buffer
	assert.Equal(t, 0, run(roleMain, 0, []string{"-t", "-f", good}, &out, &errb))
	assert.Empty(t, errb.String())

	errb.Reset()
	assert.Equal(t, 5, run(roleMain, 0, []string{"--config-test", "--use-file", warn}, &out, &errb))
	assert.Contains(t, errb.String(), warn+":4: Unknown keyword 'bogus'")

	errb.Reset()
	assert.Equal(t, 5, run(roleMain, 0, []string{"-t", "-f", bad}, &out, &errb))
	assert.Contains(t, errb.String(), bad+":3: (V) virtual_router_id '300' is not in the range 1..255")

	out.Reset()
	assert.Equal(t, 0, run(roleMain, 0, []string{"-dump", "-f", good}, &out, &errb))
	assert.Contains(t, out.String(), "virtual_router_id 5")
	assert.Contains(t, out.String(), "10.9.9.9/24 dev eth0")
	assert.Contains(t, out.String(), "garp_master_delay 5")

	assert.Equal(t, 5, run(roleMain, 0, []string{"-t", "-f", filepath.Join(dir, "absent.conf")}, &out, &errb))
}
