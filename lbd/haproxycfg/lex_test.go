package haproxycfg

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLex(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "PORT" {
			return "8080", true
		}
		return "", false
	}
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   # only a comment", nil},
		{"server App01 10.0.2.11:80 check", []string{"server", "App01", "10.0.2.11:80", "check"}},
		{"\tmode\t http  ", []string{"mode", "http"}},
		{`http-response replace-value Set-Cookie (.*) \1;\ HttpOnly;`,
			[]string{"http-response", "replace-value", "Set-Cookie", "(.*)", `\1; HttpOnly;`}},
		{`a\#b # comment`, []string{"a#b"}},
		{`a#b`, []string{"a"}},
		{`"a b" 'c d'`, []string{"a b", "c d"}},
		{`"a"'b'c`, []string{"abc"}},
		{`'\1 $x "q"'`, []string{`\1 $x "q"`}},
		{`"\"x\" \$y"`, []string{`"x" $y`}},
		{`"${PORT}" "$PORT/x" $PORT`, []string{"8080", "8080/x", "$PORT"}},
		{`a\tb \x41\x42 \n`, []string{"a\tb", "AB", "\n"}},
		{`\\ \'`, []string{`\`, `'`}},
		{`""`, []string{""}},
		{`x\.y`, []string{`x\.y`}},
		{`"#not comment"`, []string{"#not comment"}},
	}
	for _, tc := range tests {
		got, err := Lex(tc.in, env)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestLexErrors(t *testing.T) {
	for _, in := range []string{`bind 1.2.3.4:5 "abc`, `'x`, `\xZZ`, `"a\x1"`} {
		_, err := Lex(in, nil)
		assert.Error(t, err, in)
	}
	_, err := Lex(`bind 127.0.0.1:1 "abc`, nil)
	var le *LexError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 17, le.Pos)
	assert.Equal(t, "unmatched quote", le.Msg)
}

func TestQuoteRoundTrip(t *testing.T) {
	words := []string{"", "a b", "#", `\1`, "'", `"`, "tab\there", "\x00\x7f", "$HOME", "é"}
	var parts []string
	for _, w := range words {
		parts = append(parts, Quote(w))
	}
	got, err := Lex(strings.Join(parts, " "), nil)
	require.NoError(t, err)
	assert.Equal(t, words, got)
}

func FuzzLex(f *testing.F) {
	for _, s := range []string{
		`http-response replace-value Set-Cookie (.*) \1;\ HttpOnly;`,
		`"a b" 'c d' \x41 # x`, `"${X}" $Y \`, `'`, `"\"`, "a\tb\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := Lex(line, func(string) (string, bool) { return "v", true })
		if err != nil {
			return
		}
		// Whatever Lex produced must survive a Quote/Lex round trip.
		parts := make([]string, len(words))
		for i, w := range words {
			parts[i] = Quote(w)
		}
		again, err := Lex(strings.Join(parts, " "), nil)
		if err != nil {
			t.Fatalf("re-lex of %q: %v", parts, err)
		}
		if len(again) != len(words) {
			t.Fatalf("round trip of %q: %q != %q", line, again, words)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("round trip of %q: %q != %q", line, again, words)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("frontend f *:8080\nmode http\ndefault_backend b\nbackend b\nmode http\nserver s 1.2.3.4:80 check\n"))
	f.Add([]byte("defaults\nmode http\nfrontend f\nbind :80\nacl a hdr(host) -i x\nuse_backend b if a || { path_beg /x }\nbackend b\ncookie C insert indirect nocache\nserver s 1.2.3.4:80 cookie s1 weight 3\n"))
	f.Add([]byte("listen l 127.0.0.1:1\nserver s 127.0.0.1 check port 2 inter 1s rise 1 fall 1\nhttp-response replace-value Set-Cookie (.*) \\1;\\ Secure\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse([]Source{{Name: "fuzz.cfg", Data: data}}, nil)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}
