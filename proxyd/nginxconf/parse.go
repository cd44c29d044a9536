package nginxconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxIncludeDepth bounds nested includes so that a file including itself
// fails instead of recursing forever.
const maxIncludeDepth = 32

// ParseFile reads the nginx configuration in path and every file it
// includes. Relative include paths are resolved against the directory of
// path, as nginx resolves them against its configuration prefix.
func ParseFile(path string) ([]*Directive, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("nginxconf: %w", err)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, &Error{Msg: openError(abs, err)}
	}
	p := &parser{confDir: filepath.Dir(abs)}
	return p.parse(abs, src, 0)
}

// Parse reads configuration text src named file. Relative includes are
// resolved against confDir.
func Parse(file string, src []byte, confDir string) ([]*Directive, error) {
	p := &parser{confDir: confDir}
	return p.parse(file, src, 0)
}

type parser struct {
	confDir string
}

func (p *parser) parse(file string, src []byte, depth int) ([]*Directive, error) {
	lx := newLexer(file, src)
	list, end, err := p.block(lx, depth)
	if err != nil {
		return nil, err
	}
	if end == tokBlockEnd {
		return nil, lx.errorf(lx.line, `unexpected "}"`)
	}
	return list, nil
}

// block reads statements until a closing brace or the end of the file and
// reports which one it met.
func (p *parser) block(lx *lexer, depth int) ([]*Directive, tokenKind, error) {
	list := []*Directive{}
	for {
		words, kind, line, err := lx.next()
		if err != nil {
			return nil, 0, err
		}
		switch kind {
		case tokEOF, tokBlockEnd:
			return list, kind, nil
		}
		d := &Directive{Name: words[0], Args: words[1:], File: lx.file, Line: line}
		if kind == tokBlockStart {
			d.IsBlock = true
			inner, end, err := p.block(lx, depth)
			if err != nil {
				return nil, 0, err
			}
			if end == tokEOF {
				return nil, 0, lx.errorf(lx.line, `unexpected end of file, expecting "}"`)
			}
			d.Block = inner
		}
		if d.Name == "include" {
			inc, err := p.include(d, depth)
			if err != nil {
				return nil, 0, err
			}
			list = append(list, inc...)
			continue
		}
		list = append(list, d)
	}
}

// include expands an include directive in place.
func (p *parser) include(d *Directive, depth int) ([]*Directive, error) {
	if d.IsBlock {
		return nil, d.Errorf(`directive "include" is not terminated by ";"`)
	}
	if len(d.Args) != 1 {
		return nil, d.Errorf(`invalid number of arguments in "include" directive`)
	}
	if depth >= maxIncludeDepth {
		return nil, d.Errorf("too many nested includes")
	}
	pattern := d.Args[0]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.confDir, pattern)
	}
	var files []string
	if !strings.ContainsAny(pattern, "*?[") {
		files = []string{pattern}
	} else {
		m, err := glob(pattern)
		if err != nil {
			return nil, d.Errorf(`glob() "%s" failed`, pattern)
		}
		files = m
	}
	var out []*Directive
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, d.Errorf("%s", openError(f, err))
		}
		list, err := p.parse(f, src, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// glob matches like glob(3) with default flags: sorted results, and a
// leading "." in a name is only matched by a pattern that starts with ".".
func glob(pattern string) ([]string, error) {
	m, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(pattern)
	out := m[:0]
	for _, f := range m {
		if strings.HasPrefix(filepath.Base(f), ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			// nginx would fail reading a directory; skip as glob(3) users usually intend files.
			continue
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}

// openError words a failed open as nginx does:
// open() "/x" failed (2: No such file or directory).
func openError(path string, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return fmt.Sprintf(`open() "%s" failed (%d: %s)`, path, int(errno), msg)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf(`open() "%s" failed (2: No such file or directory)`, path)
	}
	return fmt.Sprintf(`open() "%s" failed (%v)`, path, err)
}
