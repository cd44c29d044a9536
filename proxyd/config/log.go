package config

import (
	"strings"

	"halab/proxyd/nginxconf"
)

// DefaultAccessLog is where nginx (as built by Debian) logs when no
// access_log is configured.
const DefaultAccessLog = "/var/log/nginx/access.log"

// combined is nginx's predefined log format.
func combined() *LogFormat {
	return &LogFormat{
		Name:   "combined",
		Escape: "default",
		Format: `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`,
	}
}

func (b *builder) logFormat(d *nginxconf.Directive, _ *frame) error {
	name := d.Args[0]
	if _, dup := b.cfg.HTTP.LogFormats[name]; dup {
		return d.Errorf(`duplicate "log_format" name "%s"`, name)
	}
	lf := &LogFormat{Name: name, Escape: "default"}
	args := d.Args[1:]
	if strings.HasPrefix(args[0], "escape=") {
		lf.Escape = strings.TrimPrefix(args[0], "escape=")
		switch lf.Escape {
		case "default", "json", "none":
		default:
			return d.Errorf(`unknown log format escaping "%s"`, lf.Escape)
		}
		args = args[1:]
		if len(args) == 0 {
			return d.Errorf(`invalid number of arguments in "log_format" directive`)
		}
	}
	lf.Format = strings.Join(args, "")
	if err := checkVars(lf.Format); err != nil {
		return d.Errorf("%s", err.Error())
	}
	b.cfg.HTTP.LogFormats[name] = lf
	return nil
}

func (b *builder) accessLog(d *nginxconf.Directive, f *frame) error {
	s := f.scope
	s.accessLogSet = true
	if d.Args[0] == "off" {
		if len(d.Args) != 1 {
			return d.Errorf(`invalid parameter "%s"`, d.Args[1])
		}
		s.accessLogs = nil
		return nil
	}
	name := "combined"
	if len(d.Args) > 1 {
		name = d.Args[1]
	}
	lf, ok := b.cfg.HTTP.LogFormats[name]
	if !ok {
		return d.Errorf(`unknown log format "%s"`, name)
	}
	for _, p := range d.Args[min(2, len(d.Args)):] {
		switch {
		case strings.HasPrefix(p, "buffer="), strings.HasPrefix(p, "flush="),
			strings.HasPrefix(p, "gzip"), strings.HasPrefix(p, "if="):
		default:
			return d.Errorf(`invalid parameter "%s"`, p)
		}
	}
	path := d.Args[0]
	if !strings.HasPrefix(path, "syslog:") {
		path = b.path(path)
	}
	s.accessLogs = append(s.accessLogs, AccessLog{Path: path, Format: lf})
	return nil
}
