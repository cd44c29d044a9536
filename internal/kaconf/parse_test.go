package kaconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// articleConf is the article's nginx01 config with the parts the web page
// lost put back (addresses, closing braces).
const articleConf = `vrrp_script chk_http_port {
script "/usr/bin/killall -0 nginx"
interval 2
weight 10
}
vrrp_instance lb_nginx {
interface enp0s3
state Master
virtual_router_id 111
priority 85
authentication {
auth_type PASS
auth_pass Security
}
track_script {
chk_http_port
}
virtual_ipaddress {
192.168.1.10/24 dev enp0s3
}
}
`

// render prints a tree compactly for comparisons: kw[args]{...}.
func render(stmts []*Stmt) string {
	var b strings.Builder
	for i, s := range stmts {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(s.Keyword)
		if len(s.Args) > 0 {
			b.WriteString("[" + strings.Join(s.Args, ",") + "]")
		}
		if s.Block != nil {
			b.WriteString("{" + render(s.Block) + "}")
		}
	}
	return b.String()
}

func TestParseArticle(t *testing.T) {
	stmts, err := Parse("keepalived.conf", []byte(articleConf))
	require.NoError(t, err)
	require.Len(t, stmts, 2)
	assert.Equal(t, "vrrp_script", stmts[0].Keyword)
	assert.Equal(t, []string{"chk_http_port"}, stmts[0].Args)
	assert.Equal(t, []string{"/usr/bin/killall -0 nginx"}, stmts[0].Block[0].Args)
	inst := stmts[1]
	assert.Equal(t, "keepalived.conf:6", inst.Pos())
	assert.Equal(t, "virtual_ipaddress", inst.Block[6].Keyword)
	assert.Equal(t, "keepalived.conf:19", inst.Block[6].Block[0].Pos())
	assert.Equal(t, []string{"dev", "enp0s3"}, inst.Block[6].Block[0].Args)
}

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"comments", "# c\n! c\na b # c\nc d!e\n", "a[b];c[d]"},
		{"brace same line", "a x {\nb 1\n}\n", "a[x]{b[1]}"},
		{"brace next line", "a x\n{\nb 1\n}\n", "a[x]{b[1]}"},
		{"one line block", "virtual_ipaddress { 10.0.0.1/24 dev eth0 }", "virtual_ipaddress{10.0.0.1/24[dev,eth0]}"},
		{"text after open", "virtual_ipaddress { dev x\n10.0.0.2\n}", "virtual_ipaddress{dev[x];10.0.0.2}"},
		{"no blanks", "a{b}c", "a{b};c"},
		{"empty block", "a {\n}\nb", "a{};b"},
		{"nested", "x {\n y {\n  z 1\n }\n w\n}\n", "x{y{z[1]};w}"},
		{"quotes", `script "/bin/sh -c 'a b'" "x # y" "{"`, `script[/bin/sh -c 'a b',x # y,{]`},
		{"escapes", `a "q\"uote\\"`, `a[q"uote\]`},
		{"empty quoted", `a ""`, `a[]`},
		{"crlf", "a 1\r\nb 2\r\n", "a[1];b[2]"},
		{"tabs", "\ta\t1\t2", "a[1,2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := Parse("t.conf", []byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, render(stmts))
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unclosed", "a {\nb\n", "t.conf:1: '{' of \"a\" is never closed"},
		{"inner unclosed", "a {\nb {\n}\n", "t.conf:1: '{' of \"a\" is never closed"},
		{"extra close", "a {\n}\n}\n", "t.conf:3: unexpected '}'"},
		{"lone open", "{\n", "t.conf:1: '{' without a keyword"},
		{"double open", "a { {\n", "t.conf:1: '{' without a keyword"},
		{"reopen", "a {\n}\n{\n", "t.conf:3: '{' without a keyword"},
		{"quote", "a \"b\n", "t.conf:1: unterminated quoted string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.conf", []byte(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLinePositions(t *testing.T) {
	stmts, err := Parse("f", []byte("\n\na {\n\n  b\n}\nc\n"))
	require.NoError(t, err)
	assert.Equal(t, "f:3", stmts[0].Pos())
	assert.Equal(t, "f:5", stmts[0].Block[0].Pos())
	assert.Equal(t, "f:7", stmts[1].Pos())
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "keepalived.conf")
	writeFile(t, main, "global_defs {\n router_id A\n}\ninclude conf.d/*.conf\nvrrp_instance V {\n include inst/extra\n}\ninclude missing/*.conf\n")
	writeFile(t, filepath.Join(dir, "conf.d/b.conf"), "b 2\n")
	writeFile(t, filepath.Join(dir, "conf.d/a.conf"), "a 1\ninclude ../more/c\n")
	writeFile(t, filepath.Join(dir, "more/c"), "c 3\n")
	writeFile(t, filepath.Join(dir, "inst/extra"), "priority 90\n")

	stmts, err := ParseFile(main)
	require.NoError(t, err)
	assert.Equal(t, "global_defs{router_id[A]};a[1];c[3];b[2];vrrp_instance[V]{priority[90]}", render(stmts))
	assert.Equal(t, filepath.Join(dir, "more/c")+":1", stmts[2].Pos())
	assert.Equal(t, filepath.Join(dir, "inst/extra")+":1", stmts[4].Block[0].Pos())
}

func TestIncludeErrors(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "k.conf")
	writeFile(t, main, "includea nothing/*\n")
	_, err := ParseFile(main)
	require.ErrorContains(t, err, main+":1: include")

	writeFile(t, main, "include bad.conf\n")
	writeFile(t, filepath.Join(dir, "bad.conf"), "x {\n")
	_, err = ParseFile(main)
	require.ErrorContains(t, err, filepath.Join(dir, "bad.conf")+":1:")

	writeFile(t, main, "include k.conf\n")
	_, err = ParseFile(main)
	require.ErrorContains(t, err, "nested deeper")

	_, err = ParseFile(filepath.Join(dir, "absent.conf"))
	require.Error(t, err)
}
