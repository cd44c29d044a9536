package haproxycfg

import (
	"bufio"
	"bytes"
	"fmt"
)

// Line is one non-empty configuration line cut into words.
type Line struct {
	Pos   Pos
	Words []string
}

// Section is a "global", "defaults", "frontend", "backend", "listen" (or
// other, ignored) section with the lines that follow its header.
type Section struct {
	Kind  string
	Name  string
	Args  []string // header words after the name (legacy "listen NAME ADDR")
	Pos   Pos
	Lines []Line
}

// sectionKinds lists the section keywords HAProxy 2.6 knows. The ones lbd
// does not run are read and skipped with a warning.
var sectionKinds = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": false, "peers": false, "resolvers": false, "mailers": false,
	"cache": false, "program": false, "http-errors": false, "ring": false,
	"fcgi-app": false, "namespace_list": false, "traces": false,
}

// ReadSections cuts data (the contents of file) into sections. env expands
// environment variables inside double quotes; nil disables expansion.
func ReadSections(file string, data []byte, env func(string) (string, bool)) ([]*Section, Alerts) {
	var (
		secs   []*Section
		cur    *Section
		alerts Alerts
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		pos := Pos{File: file, Line: n}
		text := sc.Text()
		words, err := Lex(text, env)
		if err != nil {
			msg := err.Error()
			if le, ok := err.(*LexError); ok {
				msg = fmt.Sprintf("%s at position %d:\n  %s\n  %*s", le.Msg, le.Pos+1, text, le.Pos+1, "^")
			}
			alerts = append(alerts, &Alert{Pos: pos, Msg: msg})
			continue
		}
		if len(words) == 0 {
			continue
		}
		if _, ok := sectionKinds[words[0]]; ok {
			cur = &Section{Kind: words[0], Pos: pos}
			if len(words) > 1 {
				cur.Name = words[1]
				cur.Args = words[2:]
			}
			secs = append(secs, cur)
			continue
		}
		if cur == nil {
			alerts = append(alerts, alertf(pos, "unknown keyword '%s' out of section.", words[0]))
			continue
		}
		cur.Lines = append(cur.Lines, Line{Pos: pos, Words: words})
	}
	if err := sc.Err(); err != nil {
		alerts = append(alerts, alertf(Pos{File: file, Line: n + 1}, "line too long: %v", err))
	}
	return secs, alerts
}
