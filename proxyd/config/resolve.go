package config

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Resolver looks up the addresses of a host name.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

type systemResolver struct{}

func (systemResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

var errHostNotFound = errors.New("host not found")

// splitHostPort splits "host[:port]" (with [v6] brackets) and returns
// def when there is no port.
func splitHostPort(s string, def int) (host string, port int, hasPort bool, err error) {
	h, p, e := net.SplitHostPort(s)
	if e != nil {
		// no port
		h = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if h == "" {
			return "", 0, false, errors.New("no host")
		}
		return h, def, false, nil
	}
	n, e := strconv.Atoi(p)
	if e != nil || n < 1 || n > 65535 {
		return "", 0, false, errors.New("invalid port")
	}
	if h == "" {
		return "", 0, false, errors.New("no host")
	}
	return h, n, true, nil
}

// resolveHostPort returns every IPv4 and IPv6 address of host[:port],
// in the resolver's order, as nginx does at configuration time.
func resolveHostPort(r Resolver, s string, def int) ([]netip.AddrPort, error) {
	host, port, _, err := splitHostPort(s, def)
	if err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a, uint16(port))}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, errHostNotFound
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	return out, nil
}
