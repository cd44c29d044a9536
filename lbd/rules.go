package lbd

import (
	"regexp"
	"strconv"
	"strings"

	"halab/lbd/haproxycfg"
)

// applyHeaderRule runs one set/add/del/replace header action on h.
func applyHeaderRule(r *haproxycfg.HTTPRule, h *Header, tx *txn) {
	switch r.Action {
	case "set-header":
		h.Set(r.Name, formatValue(r.Value, tx))
	case "add-header":
		h.Add(r.Name, formatValue(r.Value, tx))
	case "del-header":
		h.Del(r.Name)
	case "replace-header":
		for i, f := range *h {
			if equalFoldASCII(f.Name, r.Name) {
				var dst [4]int
				if m := submatch(r.Regexp, f.Value, &dst); m != nil {
					(*h)[i].Value = expandRepl(r.Value, f.Value, m)
				}
			}
		}
	case "replace-value":
		for i, f := range *h {
			if equalFoldASCII(f.Name, r.Name) {
				(*h)[i].Value = replaceValues(r.Regexp, r.Value, f.Value)
			}
		}
	}
}

// replaceValues applies HAProxy's replace-value: the regex is tried on each
// comma-separated element (trimmed); a matching element becomes the
// expanded replacement without its surrounding blanks, the others stay as
// they were. Elements are joined back with a bare comma.
func replaceValues(re *regexp.Regexp, repl, value string) string {
	var dst [4]int
	if !strings.Contains(value, ",") {
		t := strings.Trim(value, " \t")
		if m := submatch(re, t, &dst); m != nil {
			return expandRepl(repl, t, m)
		}
		return value
	}
	parts := strings.Split(value, ",")
	for i, p := range parts {
		t := strings.Trim(p, " \t")
		if m := submatch(re, t, &dst); m != nil {
			parts[i] = expandRepl(repl, t, m)
		}
	}
	return strings.Join(parts, ",")
}

// submatch is re.FindStringSubmatchIndex(s), without running the regexp
// for the pattern header rules use most, "(.*)" (anchored or not): it
// matches any header value whole, as its first group (in dst). A value
// holds no newline, the one byte "." does not match.
func submatch(re *regexp.Regexp, s string, dst *[4]int) []int {
	switch re.String() {
	case "(.*)", "^(.*)", "(.*)$", "^(.*)$":
		if !strings.Contains(s, "\n") {
			n := len(s)
			*dst = [4]int{0, n, 0, n}
			return dst[:]
		}
	}
	return re.FindStringSubmatchIndex(s)
}

// expandRepl builds a replacement the way HAProxy's exp_replace does: the
// whole value becomes repl, where \0..\9 are capture groups of the match,
// \xHH a byte, and a backslash before any other character keeps that
// character.
func expandRepl(repl, src string, m []int) string {
	var b strings.Builder
	b.Grow(len(repl) + len(src))
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 >= len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		c = repl[i]
		switch {
		case c >= '0' && c <= '9':
			g := int(c - '0')
			if 2*g+1 < len(m) && m[2*g] >= 0 {
				b.WriteString(src[m[2*g]:m[2*g+1]])
			}
		case c == 'x' && i+2 < len(repl):
			if v, err := strconv.ParseUint(repl[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
			} else {
				b.WriteByte(c)
			}
		case c == 'n':
			b.WriteByte('\n')
		case c == 'r':
			b.WriteByte('\r')
		case c == 't':
			b.WriteByte('\t')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// formatValue expands the small log-format subset lbd supports in
// set-header and add-header values: %[src], %[dst], %[src_port],
// %[dst_port], %[req.hdr(NAME)], %[path], %[method], %ci, %cp, %fi, %fp,
// %b, %f, %s and %%. Anything else is copied as written.
func formatValue(f string, tx *txn) string {
	if !strings.Contains(f, "%") {
		return f
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		switch f[i+1] {
		case '%':
			b.WriteByte('%')
			i++
		case '[':
			end := strings.IndexByte(f[i:], ']')
			if end < 0 {
				b.WriteString(f[i:])
				return b.String()
			}
			b.WriteString(tx.fetch(f[i+2 : i+end]))
			i += end
		default:
			var v string
			n := 2
			switch {
			case strings.HasPrefix(f[i+1:], "ci"):
				v = tx.src.Addr().Unmap().String()
			case strings.HasPrefix(f[i+1:], "cp"):
				v = strconv.Itoa(int(tx.src.Port()))
			case strings.HasPrefix(f[i+1:], "fi"):
				v = tx.dst.Addr().Unmap().String()
			case strings.HasPrefix(f[i+1:], "fp"):
				v = strconv.Itoa(int(tx.dst.Port()))
			case f[i+1] == 'b':
				v, n = tx.backendName(), 1
			case f[i+1] == 'f':
				v, n = tx.fe.Name, 1
			case f[i+1] == 's':
				v, n = tx.serverName(), 1
			default:
				b.WriteByte('%')
				continue
			}
			b.WriteString(v)
			i += n
		}
	}
	return b.String()
}
