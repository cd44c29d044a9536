package nginxconf

import (
	"fmt"
	"strings"
)

// tokenKind tells how a run of words ended.
type tokenKind int

const (
	tokDirective  tokenKind = iota // words ended by ";"
	tokBlockStart                  // words ended by "{"
	tokBlockEnd                    // a lone "}"
	tokEOF                         // end of input
)

// lexer splits one file into statements, as ngx_conf_read_token does.
type lexer struct {
	file string
	src  []byte
	pos  int
	line int
}

func newLexer(file string, src []byte) *lexer {
	return &lexer{file: file, src: src, line: 1}
}

func (l *lexer) errorf(line int, format string, args ...any) *Error {
	return &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// next reads the words of one statement and how it ended. line is the
// line where the statement ended, which is the line nginx reports.
func (l *lexer) next() (words []string, kind tokenKind, line int, err error) {
	var (
		lastSpace = true
		needSpace = false
		sharp     = false
		quoted    = false
		sQuoted   = false
		dQuoted   = false
		variable  = false
		start     = 0
		found     = false
	)
	for {
		if l.pos >= len(l.src) {
			if len(words) > 0 || !lastSpace {
				return nil, 0, l.line, l.errorf(l.line, `unexpected end of file, expecting ";" or "}"`)
			}
			return nil, tokEOF, l.line, nil
		}
		ch := l.src[l.pos]
		l.pos++
		if ch == '\n' {
			l.line++
			if sharp {
				sharp = false
			}
		}
		if sharp {
			continue
		}
		if quoted {
			quoted = false
			continue
		}
		if needSpace {
			if isSpace(ch) {
				lastSpace = true
				needSpace = false
				continue
			}
			switch ch {
			case ';':
				return words, tokDirective, l.line, nil
			case '{':
				return words, tokBlockStart, l.line, nil
			case ')':
				lastSpace = true
				needSpace = false
			default:
				return nil, 0, l.line, l.errorf(l.line, "unexpected %q", string(ch))
			}
		}
		if lastSpace {
			start = l.pos - 1
			if isSpace(ch) {
				continue
			}
			switch ch {
			case ';', '{':
				if len(words) == 0 {
					return nil, 0, l.line, l.errorf(l.line, "unexpected %q", string(ch))
				}
				if ch == '{' {
					return words, tokBlockStart, l.line, nil
				}
				return words, tokDirective, l.line, nil
			case '}':
				if len(words) != 0 {
					return nil, 0, l.line, l.errorf(l.line, `unexpected "}"`)
				}
				return nil, tokBlockEnd, l.line, nil
			case '#':
				sharp = true
				continue
			case '\\':
				quoted = true
				lastSpace = false
				continue
			case '"':
				start++
				dQuoted = true
				lastSpace = false
				continue
			case '\'':
				start++
				sQuoted = true
				lastSpace = false
				continue
			case '$':
				variable = true
				lastSpace = false
				continue
			default:
				lastSpace = false
			}
			continue
		}
		if ch == '{' && variable {
			continue
		}
		variable = false
		if ch == '\\' {
			quoted = true
			continue
		}
		if ch == '$' {
			variable = true
			continue
		}
		switch {
		case dQuoted:
			if ch == '"' {
				dQuoted = false
				needSpace = true
				found = true
			}
		case sQuoted:
			if ch == '\'' {
				sQuoted = false
				needSpace = true
				found = true
			}
		case isSpace(ch) || ch == ';' || ch == '{':
			lastSpace = true
			found = true
		}
		if found {
			found = false
			words = append(words, unescape(l.src[start:l.pos-1]))
			switch ch {
			case ';':
				return words, tokDirective, l.line, nil
			case '{':
				return words, tokBlockStart, l.line, nil
			}
		}
	}
}

// unescape applies nginx's escapes: \" \' \\ drop the backslash, \t \r \n
// become control characters, any other backslash is kept.
func unescape(b []byte) string {
	if !strings.ContainsRune(string(b), '\\') {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case '"', '\'', '\\':
				i++
			case 't':
				sb.WriteByte('\t')
				i++
				continue
			case 'r':
				sb.WriteByte('\r')
				i++
				continue
			case 'n':
				sb.WriteByte('\n')
				i++
				continue
			}
		}
		sb.WriteByte(b[i])
	}
	return sb.String()
}
