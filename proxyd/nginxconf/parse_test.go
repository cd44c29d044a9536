package nginxconf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flat renders a tree compactly for comparisons: name(args){...}@line.
func flat(ds []*Directive) []any {
	out := []any{}
	for _, d := range ds {
		e := []any{d.Name, d.Args, d.Line}
		if d.IsBlock {
			e = append(e, flat(d.Block))
		}
		out = append(out, e)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []any
	}{
		{"simple", "daemon off;\n", []any{[]any{"daemon", []string{"off"}, 1}}},
		{"block", "events {\n worker_connections 10;\n}\n", []any{
			[]any{"events", []string{}, 1, []any{[]any{"worker_connections", []string{"10"}, 2}}},
		}},
		{"comment", "# hi\nuser www; # trailing\n", []any{[]any{"user", []string{"www"}, 2}}},
		{"sharp inside word", "a b#c;", []any{[]any{"a", []string{"b#c"}, 1}}},
		{"double quotes", `a "b c" "d\"e" "";`, []any{[]any{"a", []string{"b c", `d"e`, ""}, 1}}},
		{"single quotes", `a 'b "c' '\'';`, []any{[]any{"a", []string{`b "c`, `'`}, 1}}},
		{"escapes", `a "x\ty\n" \; \\z;`, []any{[]any{"a", []string{"x\ty\n", `\;`, `\z`}, 1}}},
		{"variables", `a $host ${x}y;`, []any{[]any{"a", []string{"$host", "${x}y"}, 1}}},
		{"quoted regex", `location ~ "^/a{2}$" {}`, []any{[]any{"location", []string{"~", "^/a{2}$"}, 1, []any{}}}},
		{"multi-line statement reports end line", "a\nb\n;", []any{[]any{"a", []string{"b"}, 3}}},
		{"close brace in word", "a b};", []any{[]any{"a", []string{"b}"}, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("x.conf", []byte(tt.src), "/nonexistent")
			require.NoError(t, err)
			assert.Equal(t, tt.want, flat(got))
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a b", `x.conf:1: unexpected end of file, expecting ";" or "}"`},
		{"http {\n a;\n", `x.conf:3: unexpected end of file, expecting "}"`},
		{"}", `x.conf:1: unexpected "}"`},
		{"a {}\n}", `x.conf:2: unexpected "}"`},
		{"a }", `x.conf:1: unexpected "}"`},
		{";", `x.conf:1: unexpected ";"`},
		{`a "b"c;`, `x.conf:1: unexpected "c"`},
		{`include;`, `x.conf:1: invalid number of arguments in "include" directive`},
		{`include a {}`, `x.conf:1: directive "include" is not terminated by ";"`},
		{"include nosuch.conf;", `x.conf:1: open() "/nonexistent/nosuch.conf" failed (2: No such file or directory)`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := Parse("x.conf", []byte(tt.src), "/nonexistent")
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	write("nginx.conf", "events {}\nhttp {\n include conf.d/*.conf;\n include "+dir+"/extra.inc;\n include none/*.conf;\n}\n")
	write("conf.d/b.conf", "server {\n listen 2;\n}\n")
	write("conf.d/a.conf", "upstream u { server x; }\n")
	write("conf.d/.hidden.conf", "bogus;\n")
	write("conf.d/c.txt", "bogus;\n")
	write("extra.inc", "log_format main x;\n")
	got, err := ParseFile(filepath.Join(dir, "nginx.conf"))
	require.NoError(t, err)
	require.Len(t, got, 2)
	http := got[1]
	require.Equal(t, "http", http.Name)
	names := []string{}
	for _, d := range http.Block {
		names = append(names, d.Name+"@"+filepath.Base(d.File))
	}
	assert.Equal(t, []string{"upstream@a.conf", "server@b.conf", "log_format@extra.inc"}, names)
	assert.Equal(t, 2, http.Block[1].Block[0].Line)

	write("loop.conf", "include loop.conf;\n")
	_, err = ParseFile(filepath.Join(dir, "loop.conf"))
	require.ErrorContains(t, err, "too many nested includes")

	write("bad.conf", "http {\n include conf.d/broken.conf;\n}\n")
	write("conf.d/broken.conf", "a;\n}\n")
	_, err = ParseFile(filepath.Join(dir, "bad.conf"))
	require.EqualError(t, err, filepath.Join(dir, "conf.d/broken.conf")+`:2: unexpected "}"`)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, `unexpected "}" in `+filepath.Join(dir, "conf.d/broken.conf")+":2", ce.Nginx())
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"daemon off;\nevents {}\nhttp { server { listen 80; location / { proxy_pass http://u; } } }",
		`a "b\"c" 'd' $x ${y}z # c` + "\n;",
		"a {", "}", `"`, `a "b"c;`, "a \\", "location ~ ^/x{1,2}$ { return 200 'ok'; }",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ds, err := Parse("f.conf", src, "/nonexistent-dir")
		if err != nil {
			var ce *Error
			require.ErrorAs(t, err, &ce)
			require.Positive(t, ce.Line)
			return
		}
		var walk func([]*Directive)
		walk = func(ds []*Directive) {
			for _, d := range ds {
				require.NotEqual(t, "include", d.Name)
				require.Positive(t, d.Line)
				require.LessOrEqual(t, d.Line, 1+countLines(src))
				walk(d.Block)
			}
		}
		walk(ds)
	})
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
