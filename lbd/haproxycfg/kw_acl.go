package haproxycfg

import (
	"fmt"
	"regexp"
	"strings"
)

// fetchInfo describes a sample fetch usable in ACLs: the default match
// method and whether it takes a header-name argument.
type fetchInfo struct {
	match  string
	hdrArg bool
}

// aclFetches maps the ACL fetch keywords lbd evaluates. Derived keywords
// such as path_beg or hdr_dom(host) set their match method.
var aclFetches = map[string]fetchInfo{
	"hdr": {"str", true}, "req.hdr": {"str", true},
	"hdr_beg": {"beg", true}, "hdr_end": {"end", true}, "hdr_sub": {"sub", true},
	"hdr_reg": {"reg", true}, "hdr_dom": {"dom", true}, "hdr_dir": {"dir", true},
	"hdr_cnt": {"int", true},
	"path":    {"str", false}, "path_beg": {"beg", false}, "path_end": {"end", false},
	"path_sub": {"sub", false}, "path_reg": {"reg", false}, "path_dir": {"dir", false},
	"path_dom": {"dom", false},
	"url":      {"str", false}, "url_beg": {"beg", false}, "url_end": {"end", false},
	"url_sub": {"sub", false}, "url_reg": {"reg", false},
	"src": {"ip", false}, "dst": {"ip", false},
	"method": {"str", false}, "dst_port": {"int", false}, "src_port": {"int", false},
	"always_true": {"found", false}, "always_false": {"found", false},
}

var matchMethods = map[string]bool{
	"str": true, "beg": true, "end": true, "sub": true, "reg": true, "dom": true,
	"dir": true, "found": true, "ip": true, "int": true, "len": true,
}

// parseACLExpr parses "FETCH [flags] [patterns...]" into an ACL.
func parseACLExpr(pos Pos, name string, w []string) (*ACL, error) {
	if len(w) == 0 {
		return nil, fmt.Errorf("missing fetch method in ACL expression")
	}
	expr := w[0]
	fetch, arg := expr, ""
	if i := strings.IndexByte(expr, '('); i >= 0 {
		if !strings.HasSuffix(expr, ")") {
			return nil, fmt.Errorf("missing closing ')' after arguments to fetch keyword '%s' in ACL expression '%s'", expr[:i], expr)
		}
		fetch, arg = expr[:i], expr[i+1:len(expr)-1]
	}
	if strings.Contains(fetch, ",") {
		return nil, fmt.Errorf("converters are not supported by lbd in ACL expression '%s'", expr)
	}
	fi, ok := aclFetches[fetch]
	if !ok {
		return nil, fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'", fetch, expr)
	}
	a := &ACL{Pos: pos, Name: name, Fetch: fetch, FetchArg: arg, Match: fi.match}
	if fi.hdrArg {
		a.Fetch = "hdr"
		if arg == "" {
			// hdr() without a name matches the whole request headers; lbd
			// needs a name.
			return nil, fmt.Errorf("fetch method '%s' needs a header name in lbd", fetch)
		}
	}
	if strings.HasPrefix(fetch, "path") {
		a.Fetch = "path"
	} else if strings.HasPrefix(fetch, "url") {
		a.Fetch = "url"
	}
	i := 1
flags:
	for ; i < len(w); i++ {
		switch w[i] {
		case "-i":
			a.NoCase = true
		case "-n", "-u":
		case "-m":
			if i+1 >= len(w) || !matchMethods[w[i+1]] {
				return nil, fmt.Errorf("'-m' expects a match method among str, beg, end, sub, reg, dom, dir, found, ip, int, len")
			}
			a.Match = w[i+1]
			i++
		case "-f", "-M":
			return nil, fmt.Errorf("'%s' (pattern files) is not supported by lbd", w[i])
		case "--":
			i++
			break flags
		default:
			break flags
		}
	}
	a.Patterns = append(a.Patterns, w[i:]...)
	switch a.Match {
	case "reg":
		for _, pat := range a.Patterns {
			src := pat
			if a.NoCase {
				src = "(?i)" + src
			}
			re, err := regexp.Compile(src)
			if err != nil {
				return nil, fmt.Errorf("regex '%s' is invalid (error=%v)", pat, err)
			}
			a.Regexps = append(a.Regexps, re)
		}
	case "ip":
		for _, pat := range a.Patterns {
			pfx, err := parsePrefix(pat)
			if err != nil {
				return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", pat)
			}
			a.Nets = append(a.Nets, pfx)
		}
	}
	if fetch == "always_false" {
		a.Match = "never"
	}
	return a, nil
}

func (p *parser) acl(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 3 {
		p.alert(l.Pos, "'acl' expects <name> and a criterion.")
		return
	}
	for _, c := range w[1] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			p.alert(l.Pos, "character '%c' is not permitted in acl name '%s'.", c, w[1])
			return
		}
	}
	a, err := parseACLExpr(l.Pos, w[1], w[2:])
	if err != nil {
		p.alert(l.Pos, "error detected while parsing ACL '%s' : %v.", w[1], err)
		return
	}
	px.ACLs = append(px.ACLs, a)
}

// findACL looks an ACL up by name; several ACL lines with one name are
// ORed, so the last one found is chained through the returned list.
func findACLs(px *Proxy, name string) []*ACL {
	var out []*ACL
	for _, a := range px.ACLs {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// parseCond parses the words after "if" or "unless".
func parseCond(px *Proxy, pos Pos, w []string) (*Cond, error) {
	if len(w) == 0 {
		return nil, nil
	}
	c := &Cond{}
	switch w[0] {
	case "if":
	case "unless":
		c.Unless = true
	default:
		return nil, fmt.Errorf("expects 'if' or 'unless' followed by a condition but found '%s'", w[0])
	}
	w = w[1:]
	if len(w) == 0 {
		return nil, fmt.Errorf("missing condition after '%s'", map[bool]string{false: "if", true: "unless"}[c.Unless])
	}
	var and []Term
	for i := 0; i < len(w); i++ {
		tok := w[i]
		if tok == "or" || tok == "||" {
			if len(and) == 0 {
				return nil, fmt.Errorf("missing ACL before '%s'", tok)
			}
			c.Or = append(c.Or, and)
			and = nil
			continue
		}
		neg := false
		for strings.HasPrefix(tok, "!") {
			neg = !neg
			tok = tok[1:]
			if tok == "" {
				i++
				if i >= len(w) {
					return nil, fmt.Errorf("missing ACL after '!'")
				}
				tok = w[i]
			}
		}
		if tok == "{" {
			end := -1
			for j := i + 1; j < len(w); j++ {
				if w[j] == "}" {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("missing closing '}' in condition")
			}
			a, err := parseACLExpr(pos, "", w[i+1:end])
			if err != nil {
				return nil, fmt.Errorf("error detected while parsing anonymous ACL : %v", err)
			}
			and = append(and, Term{Neg: neg, ACL: a})
			i = end
			continue
		}
		acls := findACLs(px, tok)
		if len(acls) == 0 {
			if _, ok := aclFetches[tok]; ok && (tok == "always_true" || tok == "always_false") {
				a, _ := parseACLExpr(pos, tok, []string{tok})
				and = append(and, Term{Neg: neg, ACL: a})
				continue
			}
			return nil, fmt.Errorf("no such ACL : '%s'", tok)
		}
		and = append(and, Term{Neg: neg, ACL: chainACLs(acls)})
	}
	if len(and) == 0 {
		return nil, fmt.Errorf("missing ACL after 'or'")
	}
	c.Or = append(c.Or, and)
	return c, nil
}

// chainACLs merges several same-name ACL declarations (they are ORed) into
// one ACL value whose Next fields are walked at evaluation time.
func chainACLs(acls []*ACL) *ACL {
	if len(acls) == 1 {
		return acls[0]
	}
	head := *acls[0]
	head.Or = acls[1:]
	return &head
}

func (p *parser) useBackend(px *Proxy, l Line) {
	w := l.Words
	if len(w) < 2 {
		p.alert(l.Pos, "'use_backend' requires a backend name.")
		return
	}
	cond, err := parseCond(px, l.Pos, w[2:])
	if err != nil {
		p.alert(l.Pos, "error detected while parsing switching rule : %v.", err)
		return
	}
	px.UseBackends = append(px.UseBackends, UseBackend{Pos: l.Pos, Backend: w[1], Cond: cond})
}
