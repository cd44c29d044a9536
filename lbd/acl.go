package lbd

import (
	"net/netip"
	"strconv"
	"strings"

	"halab/lbd/haproxycfg"
)

// txn is what ACLs and log-format expressions see of a request.
type txn struct {
	fe  *Frontend
	be  *Backend
	srv *Server
	src netip.AddrPort
	dst netip.AddrPort
	req *Request
	log *reqLog // &trace once newTxn made the transaction
	// trace is the transaction's log, allocated with it
	trace reqLog

	// keep: the client connection stays open after this transaction.
	keep bool
	// out0 is the count of bytes sent to the client before it.
	out0 int64
	// pers is what the request's persistence cookie names.
	pers persistence
	// serverClose: "option http-server-close" applies.
	serverClose bool
}

func (tx *txn) backendName() string {
	if tx.be == nil {
		return "<NOSRV>"
	}
	return tx.be.Name
}

func (tx *txn) serverName() string {
	if tx.srv == nil {
		return "<NOSRV>"
	}
	return tx.srv.Name
}

// fetch evaluates a sample fetch used in %[...] expressions.
func (tx *txn) fetch(expr string) string {
	vals := tx.samples(expr)
	if len(vals) == 0 {
		return ""
	}
	return vals[len(vals)-1]
}

// samples returns the values a fetch yields; hdr() yields one value per
// comma-separated element, as HAProxy does.
func (tx *txn) samples(expr string) []string {
	name, arg := expr, ""
	if i := strings.IndexByte(expr, '('); i >= 0 && strings.HasSuffix(expr, ")") {
		name, arg = expr[:i], expr[i+1:len(expr)-1]
	}
	switch name {
	case "src":
		return []string{tx.src.Addr().Unmap().String()}
	case "dst":
		return []string{tx.dst.Addr().Unmap().String()}
	case "src_port":
		return []string{strconv.Itoa(int(tx.src.Port()))}
	case "dst_port":
		return []string{strconv.Itoa(int(tx.dst.Port()))}
	}
	if tx.req == nil {
		return nil
	}
	switch name {
	case "path":
		return []string{tx.req.Path()}
	case "url":
		return []string{tx.req.URI}
	case "method":
		return []string{tx.req.Method}
	case "hdr", "req.hdr":
		var out []string
		for _, v := range tx.req.Header.Values(arg) {
			for _, p := range strings.Split(v, ",") {
				out = append(out, strings.Trim(p, " \t"))
			}
		}
		return out
	case "hdr_cnt":
		return []string{strconv.Itoa(len(tx.samples("hdr(" + arg + ")")))}
	}
	return nil
}

// evalCond evaluates an if/unless condition; a nil condition is true.
func (tx *txn) evalCond(c *haproxycfg.Cond) bool {
	if c == nil {
		return true
	}
	res := false
	for _, and := range c.Or {
		ok := true
		for _, t := range and {
			if tx.evalACL(t.ACL) == t.Neg {
				ok = false
				break
			}
		}
		if ok {
			res = true
			break
		}
	}
	return res != c.Unless
}

// evalACL matches one ACL (and the same-name declarations ORed with it).
func (tx *txn) evalACL(a *haproxycfg.ACL) bool {
	if tx.matchACL(a) {
		return true
	}
	for _, o := range a.Or {
		if tx.matchACL(o) {
			return true
		}
	}
	return false
}

func (tx *txn) matchACL(a *haproxycfg.ACL) bool {
	switch a.Fetch {
	case "always_true":
		return true
	case "always_false":
		return false
	}
	expr := a.Fetch
	if a.Fetch == "hdr" {
		expr = "hdr(" + a.FetchArg + ")"
	}
	vals := tx.samples(expr)
	switch a.Match {
	case "found":
		return len(vals) > 0
	case "never":
		return false
	case "ip":
		for _, v := range vals {
			ip, err := netip.ParseAddr(v)
			if err != nil {
				continue
			}
			for _, n := range a.Nets {
				if n.Contains(ip.Unmap()) {
					return true
				}
			}
		}
		return false
	case "reg":
		for _, v := range vals {
			for _, re := range a.Regexps {
				if re.MatchString(v) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range vals {
		for _, p := range a.Patterns {
			if matchString(a.Match, v, p, a.NoCase) {
				return true
			}
		}
	}
	return false
}

func matchString(method, v, p string, nocase bool) bool {
	if nocase {
		v, p = strings.ToLower(v), strings.ToLower(p)
	}
	switch method {
	case "str":
		return v == p
	case "beg":
		return strings.HasPrefix(v, p)
	case "end":
		return strings.HasSuffix(v, p)
	case "sub":
		return strings.Contains(v, p)
	case "len":
		n, err := strconv.Atoi(p)
		return err == nil && len(v) == n
	case "int":
		return v == p
	case "dom", "dir":
		sep := "/"
		if method == "dom" {
			sep = "/?.:"
		}
		fields := strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(sep, r) })
		pf := strings.FieldsFunc(p, func(r rune) bool { return strings.ContainsRune(sep, r) })
		for i := 0; i+len(pf) <= len(fields); i++ {
			ok := len(pf) > 0
			for j := range pf {
				if fields[i+j] != pf[j] {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}
