package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpandShortFlags(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"-f", "k.conf", "-nlD"}, []string{"-f", "k.conf", "-n", "-l", "-D"}},
		{[]string{"-fk.conf", "-p/run/x.pid", "-t"}, []string{"-f", "k.conf", "-p", "/run/x.pid", "-t"}},
		{[]string{"--use-file=k.conf", "--dont-fork"}, []string{"--use-file=k.conf", "--dont-fork"}},
		{[]string{"-n", "--", "-nl"}, []string{"-n", "--", "-nl"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, expandShortFlags(tt.in))
	}
}

func TestParseL4Flags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseL4Flags([]string{"-f", "/etc/k.conf", "-n", "-l", "-D", "-p", "/run/lbd.pid"}, &stderr)
	require.NoError(t, err)
	assert.Equal(t, &l4Flags{file: "/etc/k.conf", pidFile: "/run/lbd.pid", logDetail: true}, o)

	o, err = parseL4Flags([]string{"--use-file=/k.conf", "--dont-fork", "--log-console", "-C", "-S", "0", "-t"}, &stderr)
	require.NoError(t, err)
	assert.Equal(t, &l4Flags{file: "/k.conf", configTest: true}, o)

	o, err = parseL4Flags(nil, &stderr)
	require.NoError(t, err)
	assert.Equal(t, "/etc/keepalived/keepalived.conf", o.file)

	_, err = parseL4Flags([]string{"-I"}, &stderr)
	assert.ErrorContains(t, err, "dont-release-ipvs")
	_, err = parseL4Flags([]string{"-Z"}, &stderr)
	assert.Error(t, err)
	_, err = parseL4Flags([]string{"extra"}, &stderr)
	assert.ErrorContains(t, err, `unexpected argument "extra"`)
}

func TestRunL4ConfigTest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	good := write("good.conf", "vrrp_instance v {\n}\nvirtual_server 10.0.0.100 80 {\nlb_algo rr\nlb_kind NAT\nprotocol tcp\nreal_server 10.0.2.11 80 {\nTCP_CHECK {\nconnect_timeout 10\n}\n}\n}\n")
	dr := write("dr.conf", "virtual_server 10.0.0.100 80 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\n}\n")
	empty := write("empty.conf", "virtual_server 10.0.0.100 80 {\nlb_algo rr\nprotocol TCP\n}\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"good", []string{"-t", "-f", good}, 0, ""},
		{"dr", []string{"-f", dr, "-t"}, l4ExitConfig, dr + ":3: lb_kind DR is not supported by lbd"},
		{"no real servers", []string{"-t", "-f", empty}, l4ExitConfig, "Virtual server [10.0.0.100]:tcp:80 has no real servers - ignoring"},
		{"missing", []string{"-t", "-f", filepath.Join(dir, "nope.conf")}, l4ExitConfig, "nope.conf"},
		{"bad flag", []string{"-Z"}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, tt.code, runL4With(tt.args, &stderr, nil))
			assert.Contains(t, stderr.String(), tt.stderr)
		})
	}
}
