package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-tq", "-cfile.conf", "-p", "/pre", "-g", "daemon off;"})
	require.NoError(t, err)
	assert.True(t, o.test)
	assert.True(t, o.quiet)
	assert.Equal(t, "file.conf", o.conf)
	assert.Equal(t, "/pre", o.prefix)
	assert.Equal(t, "daemon off;", o.globals)
	_, err = parseArgs([]string{"-s", "restart"})
	assert.EqualError(t, err, `[emerg] invalid option: "-s restart"`)
	_, err = parseArgs([]string{"-c"})
	assert.EqualError(t, err, `[emerg] option "-c" requires file name`)
	_, err = parseArgs([]string{"-x"})
	assert.Error(t, err)
}

func TestTestFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	require.NoError(t, os.WriteFile(good, []byte("events {}\nhttp { include site.conf; }\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "site.conf"), []byte("server { listen 127.0.0.1:1; }\n"), 0o644))
	var out bytes.Buffer
	assert.Equal(t, 0, run([]string{"nginx", "-t", "-c", good}, &out))
	assert.Equal(t, "nginx: the configuration file "+good+" syntax is ok\nnginx: configuration file "+good+" test is successful\n", out.String())

	bad := filepath.Join(dir, "bad.conf")
	require.NoError(t, os.WriteFile(bad, []byte("events {}\nhttp {\n foo;\n}\n"), 0o644))
	out.Reset()
	assert.Equal(t, 1, run([]string{"/usr/sbin/proxyd", "-t", "-c", bad}, &out))
	assert.Equal(t, "proxyd: [emerg] unknown directive \"foo\" in "+bad+":3\nproxyd: configuration file "+bad+" test failed\n", out.String())

	// relative -c is taken from the prefix, -g adds main-context directives
	out.Reset()
	assert.Equal(t, 1, run([]string{"proxyd", "-t", "-p", dir, "-c", "good.conf", "-g", "daemon off; daemon on;"}, &out))
	assert.Contains(t, out.String(), "\"daemon\" directive is duplicate in command line\n")
}

func TestSignalFlag(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	pid := filepath.Join(dir, "nginx.pid")
	require.NoError(t, os.WriteFile(conf, []byte("pid "+pid+";\nevents {}\n"), 0o644))
	var out bytes.Buffer
	assert.Equal(t, 1, run([]string{"proxyd", "-c", conf, "-s", "reload"}, &out))
	assert.Contains(t, out.String(), `[error] open() "`+pid+`" failed`)
	// signal 0-like check: our own pid with "reopen" (SIGUSR1 is ignored by
	// the test binary only if handled, so use a pid that does not exist)
	require.NoError(t, os.WriteFile(pid, []byte(strconv.Itoa(1<<22+12345)+"\n"), 0o644))
	out.Reset()
	assert.Equal(t, 1, run([]string{"proxyd", "-c", conf, "-s", "stop"}, &out))
	assert.Contains(t, out.String(), "[alert] kill(")
}

func TestWorkerCount(t *testing.T) {
	for setting, want := range map[string]int{"1": 1, "4": 4, "auto": 0, "0": 0} {
		assert.Equal(t, want, workerCount(setting), setting)
	}
}
