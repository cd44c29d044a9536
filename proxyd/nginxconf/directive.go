// Package nginxconf reads nginx configuration files into a tree of
// directives, following the grammar of nginx's own reader
// (ngx_conf_file.c): words separated by blanks, directives ended by ";",
// blocks in braces, "#" comments, single and double quotes with
// backslash escapes, and "include" with glob patterns.
//
// Values are kept as strings: variables such as $host are not expanded here.
package nginxconf

import "fmt"

// Directive is one nginx directive: a name, its arguments and, for block
// directives, the directives inside its braces.
type Directive struct {
	Name  string
	Args  []string
	File  string
	Line  int
	Block []*Directive // nil for simple directives; non-nil (maybe empty) for blocks
	// IsBlock reports whether the directive was followed by "{".
	IsBlock bool
}

// Pos returns the directive's position as "FILE:LINE".
func (d *Directive) Pos() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Errorf returns an *Error located at the directive.
func (d *Directive) Errorf(format string, args ...any) *Error {
	return &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf(format, args...)}
}

// CommandLine is the file name of directives given with -g; nginx names
// it without a line number.
const CommandLine = "command line"

// Error is a configuration error located in a file.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error returns "FILE:LINE: reason".
func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Nginx returns the message worded as nginx -t prints it:
// `reason in FILE:LINE`.
func (e *Error) Nginx() string {
	if e.File == "" {
		return e.Msg
	}
	if e.File == CommandLine {
		return e.Msg + " in " + CommandLine
	}
	return fmt.Sprintf("%s in %s:%d", e.Msg, e.File, e.Line)
}
