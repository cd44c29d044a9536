package proxyd

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"

	"halab/proxyd/config"
)

// logFiles opens each access log file once per configuration load.
type logFiles struct {
	mu    sync.Mutex
	files map[string]*logFile
}

// logFile is an append-only file written one whole line per write.
type logFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *logFiles) open(path string) (*logFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.files == nil {
		l.files = map[string]*logFile{}
	}
	if f, ok := l.files[path]; ok {
		return f, nil
	}
	var f *os.File
	if path == "stderr" || path == "/dev/stderr" {
		f = os.Stderr
	} else {
		var err error
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf(`open() "%s" failed (%w)`, path, err)
		}
	}
	lf := &logFile{f: f}
	l.files[path] = lf
	return lf, nil
}

func (l *logFiles) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.files {
		if f.f != os.Stderr {
			_ = f.f.Close()
		}
	}
	l.files = nil
}

// reopen opens every file again (after log rotation) and closes the old
// descriptors, as nginx does on SIGUSR1.
func (l *logFiles) reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for path, lf := range l.files {
		if lf.f == os.Stderr {
			continue
		}
		nf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			if first == nil {
				first = fmt.Errorf(`open() "%s" failed (%w)`, path, err)
			}
			continue
		}
		lf.mu.Lock()
		old := lf.f
		lf.f = nf
		lf.mu.Unlock()
		_ = old.Close()
	}
	return first
}

func (f *logFile) write(line []byte) {
	f.mu.Lock()
	_, _ = f.f.Write(line)
	f.mu.Unlock()
}

// openAccessLogs opens every access_log file named in the configuration.
func openAccessLogs(cfg *config.HTTP, files *logFiles) error {
	var visit func(s *config.Settings) error
	visit = func(s *config.Settings) error {
		for _, al := range s.AccessLogs {
			if strings.HasPrefix(al.Path, "syslog:") {
				continue
			}
			if _, err := files.open(al.Path); err != nil {
				return err
			}
		}
		return nil
	}
	var walk func(locs []*config.Location) error
	walk = func(locs []*config.Location) error {
		for _, l := range locs {
			if err := visit(l.Settings); err != nil {
				return err
			}
			if err := walk(l.Locations); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range cfg.Servers {
		if err := visit(s.Settings); err != nil {
			return err
		}
		if err := walk(s.Locations); err != nil {
			return err
		}
	}
	return nil
}

// lineBufs recycles the buffers access log lines are rendered in.
var lineBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// logLine renders one access log line for format f into b.
func (x *exchange) logLine(b *bytes.Buffer, f *config.LogFormat, tpls *templates) {
	for _, seg := range tpls.get(f.Format) {
		if seg.Var == "" {
			b.WriteString(seg.Lit)
			continue
		}
		v, ok := x.variable(seg.Var)
		switch f.Escape {
		case "none":
			b.WriteString(v)
		case "json":
			escapeJSON(b, v)
		default:
			if !ok {
				b.WriteByte('-')
				continue
			}
			escapeLog(b, v)
		}
	}
	b.WriteByte('\n')
}

// escapeLog escapes as nginx's default log escaping: '"', '\\', control
// characters and bytes above 0x7e become \xHH.
func escapeLog(b *bytes.Buffer, v string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
}

func escapeJSON(b *bytes.Buffer, v string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
}

// writeAccessLog writes the exchange to every access log of its level.
func (rt *runtime) writeAccessLog(x *exchange, s *config.Settings) {
	for _, al := range s.AccessLogs {
		if strings.HasPrefix(al.Path, "syslog:") {
			continue
		}
		f, err := rt.logs.open(al.Path)
		if err != nil {
			continue
		}
		b := lineBufs.Get().(*bytes.Buffer)
		b.Reset()
		x.logLine(b, al.Format, &rt.tpls)
		f.write(b.Bytes())
		lineBufs.Put(b)
	}
}
