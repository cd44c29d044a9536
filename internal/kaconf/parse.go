package kaconf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Stmt is one keyword with its arguments; Block is non-nil for `kw args { ... }`.
type Stmt struct {
	Keyword string
	Args    []string
	File    string
	Line    int
	Block   []*Stmt
}

// Pos returns the statement's position as "FILE:LINE".
func (s *Stmt) Pos() string { return s.File + ":" + strconv.Itoa(s.Line) }

// maxIncludeDepth bounds nested includes (keepalived's own limit is similar).
const maxIncludeDepth = 16

// includeKeywords are keepalived's include variants. The plain "include"
// ignores patterns that match nothing or files that cannot be read, as
// keepalived does; the checked variants report them.
var includeKeywords = map[string]bool{
	"include": false, "includer": true, "includem": true,
	"includew": true, "includeb": true, "includea": true,
}

// ParseFile reads path and every file it includes. Include patterns are
// globs; relative ones are resolved against the directory of the file that
// holds the include line, as keepalived does.
func ParseFile(path string) ([]*Stmt, error) {
	p := &parser{follow: true}
	return p.file(path, 0)
}

// Parse reads one file's content. Includes are resolved relative to the
// directory of file (only when file names a real path); pass a name without
// directory to resolve them against the working directory.
func Parse(file string, data []byte) ([]*Stmt, error) {
	p := &parser{follow: true}
	return p.parse(file, data, 0)
}

type parser struct {
	follow bool
}

func (p *parser) file(path string, depth int) ([]*Stmt, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return p.parse(path, data, depth)
}

// frame is an open block during parsing.
type frame struct {
	owner *Stmt // nil for the top level
	stmts []*Stmt
}

func (p *parser) parse(file string, data []byte, depth int) ([]*Stmt, error) {
	stack := []*frame{{}}
	var last *Stmt // last statement finished at this level; a '{' on a new line attaches to it
	lineNo := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	errAt := func(line int, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, a...))
	}
	for sc.Scan() {
		lineNo++
		toks, err := splitLine(sc.Text())
		if err != nil {
			return nil, errAt(lineNo, "%v", err)
		}
		var cur *Stmt
		for _, t := range toks {
			top := stack[len(stack)-1]
			switch {
			case t.isOpen():
				owner := cur
				if owner == nil {
					owner = last
				}
				if owner == nil || owner.Block != nil {
					return nil, errAt(lineNo, "'{' without a keyword before it")
				}
				owner.Block = []*Stmt{}
				stack = append(stack, &frame{owner: owner})
				cur, last = nil, nil
			case t.isClose():
				if len(stack) == 1 {
					return nil, errAt(lineNo, "unexpected '}' (no block is open)")
				}
				if top.stmts != nil {
					top.owner.Block = top.stmts
				}
				stack = stack[:len(stack)-1]
				last = top.owner
				cur = nil
			case cur == nil:
				cur = &Stmt{Keyword: t.text, File: file, Line: lineNo}
				top.stmts = append(top.stmts, cur)
			default:
				cur.Args = append(cur.Args, t.text)
			}
		}
		if cur != nil {
			last = cur
			if check, ok := includeKeywords[cur.Keyword]; ok && p.follow {
				top := stack[len(stack)-1]
				top.stmts = top.stmts[:len(top.stmts)-1]
				inc, err := p.include(cur, check, depth)
				if err != nil {
					return nil, err
				}
				top.stmts = append(top.stmts, inc...)
				last = nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, lineNo+1, err)
	}
	if len(stack) > 1 {
		o := stack[len(stack)-1].owner
		return nil, fmt.Errorf("%s: '{' of %q is never closed (end of file at line %d)", o.Pos(), o.Keyword, lineNo)
	}
	return stack[0].stmts, nil
}

// include expands one include statement into the statements of the files
// its patterns match, in lexical order per pattern.
func (p *parser) include(s *Stmt, check bool, depth int) ([]*Stmt, error) {
	if len(s.Args) == 0 {
		return nil, fmt.Errorf("%s: %s needs a file name", s.Pos(), s.Keyword)
	}
	if depth >= maxIncludeDepth {
		return nil, fmt.Errorf("%s: includes nested deeper than %d", s.Pos(), maxIncludeDepth)
	}
	var out []*Stmt
	for _, pat := range s.Args {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(s.File), pat)
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("%s: bad include pattern %q: %w", s.Pos(), pat, err)
		}
		if len(matches) == 0 && check {
			return nil, fmt.Errorf("%s: include %q matches no file", s.Pos(), pat)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				continue
			}
			data, err := os.ReadFile(m)
			if err != nil {
				if check {
					return nil, fmt.Errorf("%s: include: %w", s.Pos(), err)
				}
				continue
			}
			stmts, err := p.parse(m, data, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, stmts...)
		}
	}
	return out, nil
}
