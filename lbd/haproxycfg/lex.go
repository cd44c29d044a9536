// Package haproxycfg reads haproxy.cfg files: it cuts lines into words the
// way HAProxy 2.6 does (escapes, weak and strong quoting, comments), groups
// them into sections and turns the sections into a validated model.
package haproxycfg

import (
	"fmt"
	"strings"
)

// LexError reports a line that cannot be cut into words. Pos is the byte
// offset of the offending character in the line.
type LexError struct {
	Pos int
	Msg string
}

func (e *LexError) Error() string { return fmt.Sprintf("%s at position %d", e.Msg, e.Pos) }

// Lex cuts one configuration line into words following HAProxy's rules:
// words are separated by spaces or tabs, '#' starts a comment, a backslash
// escapes the next character outside single quotes, double quotes protect
// separators and expand environment variables through env (nil means no
// expansion), single quotes protect everything. Unknown escapes such as
// "\1" are kept verbatim so that regex back-references survive.
func Lex(line string, env func(string) (string, bool)) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  byte // 0, '"' or '\''
		qpos   int
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
				continue
			}
			cur.WriteByte(c)
		case c == '\\':
			inWord = true
			n, adv, err := unescape(line, i, quote == '"')
			if err != nil {
				return nil, err
			}
			cur.WriteString(n)
			i += adv
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '$':
				v, adv := expandEnv(line[i:], env)
				cur.WriteString(v)
				i += adv - 1
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t':
			flush()
		case c == '\r' || c == '\n':
			flush()
		case c == '#':
			flush()
			return words, nil
		case c == '"' || c == '\'':
			inWord = true
			quote = c
			qpos = i
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, &LexError{Pos: qpos, Msg: "unmatched quote"}
	}
	flush()
	return words, nil
}

// unescape decodes the escape sequence starting with the backslash at
// line[i]. It returns the decoded text and how many bytes after i it used.
func unescape(line string, i int, inDouble bool) (string, int, error) {
	if i+1 >= len(line) {
		// A trailing backslash is kept as is.
		return `\`, 0, nil
	}
	switch c := line[i+1]; c {
	case ' ', '#', '\\', '\'', '"', '\t':
		return string(c), 1, nil
	case '$':
		return "$", 1, nil
	case 'n':
		return "\n", 1, nil
	case 'r':
		return "\r", 1, nil
	case 't':
		return "\t", 1, nil
	case 'x':
		if i+3 < len(line) && isHex(line[i+2]) && isHex(line[i+3]) {
			return string([]byte{hexVal(line[i+2])<<4 | hexVal(line[i+3])}), 3, nil
		}
		return "", 0, &LexError{Pos: i, Msg: "truncated or invalid hexadecimal sequence"}
	default:
		// Not an escape HAProxy knows: keep the backslash for later
		// layers (regex back-references, "\." in patterns).
		return `\` + string(c), 1, nil
	}
}

// expandEnv expands "$NAME" or "${NAME}" at the start of s. It returns the
// value and the number of bytes consumed (at least 1).
func expandEnv(s string, env func(string) (string, bool)) (string, int) {
	if len(s) < 2 {
		return "$", 1
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "$", 1
		}
		return lookupEnv(s[2:end], env), end + 1
	}
	n := 1
	for n < len(s) && (isAlnum(s[n]) || s[n] == '_') {
		n++
	}
	if n == 1 {
		return "$", 1
	}
	return lookupEnv(s[1:n], env), n
}

func lookupEnv(name string, env func(string) (string, bool)) string {
	if env == nil {
		return ""
	}
	v, _ := env(name)
	return v
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// Quote renders word so that Lex reads it back unchanged: every character
// that Lex treats specially is escaped. It is the inverse of Lex for one word.
func Quote(word string) string {
	if word == "" {
		return `""`
	}
	var b strings.Builder
	for i := 0; i < len(word); i++ {
		c := word[i]
		switch {
		case c == ' ' || c == '#' || c == '\\' || c == '\'' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
