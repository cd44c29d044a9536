package lbd

import (
	"halab/lbd/haproxycfg"
)

// Backend is the running state of a backend (or of the backend half of a
// listen section): its servers, balancer and health checks.
type Backend struct {
	Cfg      *haproxycfg.Proxy
	Name     string
	Servers  []*Server
	Balancer Balancer
}
