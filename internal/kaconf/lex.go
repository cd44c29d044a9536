package kaconf

import (
	"fmt"
	"strings"
)

// token is one word of a line: a plain or quoted word, or a brace.
type token struct {
	text   string
	quoted bool // came from "..." (so "{" is a word, not a brace)
}

func (t token) isOpen() bool  { return !t.quoted && t.text == "{" }
func (t token) isClose() bool { return !t.quoted && t.text == "}" }

// splitLine cuts one line into tokens. Comments ('#' or '!' outside quotes)
// end the line; '{' and '}' are tokens even without surrounding blanks.
// Inside double quotes, \" and \\ are escapes; a quote left open is an error.
func splitLine(line string) ([]token, error) {
	var toks []token
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, token{text: cur.String()})
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' || c == '!':
			flush()
			return toks, nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			flush()
		case c == '{' || c == '}':
			flush()
			toks = append(toks, token{text: string(c)})
		case c == '"':
			flush()
			j := i + 1
			var q strings.Builder
			closed := false
			for ; j < len(line); j++ {
				if line[j] == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\') {
					q.WriteByte(line[j+1])
					j++
					continue
				}
				if line[j] == '"' {
					closed = true
					break
				}
				q.WriteByte(line[j])
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted string")
			}
			toks = append(toks, token{text: q.String(), quoted: true})
			i = j
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return toks, nil
}
