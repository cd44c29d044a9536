package proxyd

import (
	"net/netip"

	"halab/proxyd/config"
)

// allowed applies allow/deny rules in order; the first match decides and
// no match allows.
func allowed(rules []config.AccessRule, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, r := range rules {
		if r.All || r.Prefix.Contains(addr) {
			return r.Allow
		}
	}
	return true
}
