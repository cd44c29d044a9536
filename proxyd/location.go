package proxyd

import (
	"strings"

	"halab/proxyd/config"
)

// Results of a location lookup, as in ngx_http_core_find_location.
const (
	locDeclined = iota // no static match at this level
	locAgain           // a prefix matched; regexes may still win
	locOK              // exact or regex match: final
	locRedirect        // URI lacks the trailing slash of a proxy_pass prefix
)

// findLocation selects the location for uri among locs following nginx's
// order: exact "=" match; else the longest prefix, whose nested locations
// are searched; unless that prefix is "^~", regexes in config order; else
// the longest prefix. cur is the location chosen so far.
func findLocation(locs []*config.Location, uri string, cur *config.Location) (*config.Location, []string, int) {
	rc := locDeclined
	var best *config.Location
	var redirect *config.Location
	for _, l := range locs {
		if l.IsRegex() {
			continue
		}
		if l.Modifier == config.Exact {
			if l.Path == uri {
				return l, nil, locOK
			}
			continue
		}
		if strings.HasPrefix(uri, l.Path) && (best == nil || len(l.Path) > len(best.Path)) {
			best = l
		}
		if l.ProxyPass != nil && strings.HasSuffix(l.Path, "/") && uri+"/" == l.Path {
			redirect = l
		}
	}
	if redirect != nil {
		return redirect, nil, locRedirect
	}
	noregex := false
	if best != nil {
		cur, rc = best, locAgain
		noregex = best.Modifier == config.NoRegex
		var caps []string
		var sub int
		cur, caps, sub = findLocation(best.Locations, uri, cur)
		if sub == locOK || sub == locRedirect {
			return cur, caps, sub
		}
		rc = sub
		if rc == locDeclined {
			rc = locAgain
		}
	}
	if !noregex {
		for _, l := range locs {
			if !l.IsRegex() {
				continue
			}
			m := l.Regex.FindStringSubmatch(uri)
			if m == nil {
				continue
			}
			inner, caps, _ := findLocation(l.Locations, uri, l)
			if caps == nil {
				caps = m
			}
			return inner, caps, locOK
		}
	}
	return cur, nil, rc
}
