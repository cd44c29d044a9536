package proxyd

import "strings"

// normalizePath decodes %XX escapes, merges slashes and resolves "." and
// ".." segments, giving nginx's $uri. It fails when ".." climbs above the
// root or an escape is malformed.
func normalizePath(p string) (string, bool) {
	if strings.IndexByte(p, '%') >= 0 {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c == '%' {
				if i+2 >= len(p) {
					return "", false
				}
				h, ok1 := unhex(p[i+1])
				l, ok2 := unhex(p[i+2])
				if !ok1 || !ok2 {
					return "", false
				}
				c = h<<4 | l
				if c == 0 {
					return "", false
				}
				i += 2
			}
			b.WriteByte(c)
		}
		p = b.String()
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p, true
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "":
			if last {
				out = append(out, "")
			}
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) == 0 {
				return "", false
			}
			out = out[:len(out)-1]
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeURI escapes as ngx_escape_uri(NGX_ESCAPE_URI): space, "#", "%",
// "?", control characters and bytes above 0x7e.
func escapeURI(s string) string {
	const hex = "0123456789ABCDEF"
	need := false
	for i := 0; i < len(s); i++ {
		if uriEscaped(s[i]) {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriEscaped(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func uriEscaped(c byte) bool {
	return c <= 0x20 || c >= 0x7f || c == '#' || c == '%' || c == '?'
}
