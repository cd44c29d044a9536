// Command lbd is a drop-in load balancer: given an haproxy.cfg it runs as
// HAProxy 2.6 does (HTTP and TCP mode, haproxy's flags and signals); given
// a keepalived.conf it runs the L4 NAT mode (keepalived's flags).
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// A balancer allocates short-lived request state at a high rate;
	// trading some memory for fewer collections pays (GOGC still wins).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:]))
}

// run dispatches on the syntax of the first configuration file.
func run(args []string) int {
	file := firstConfigFile(args)
	if file != "" {
		if data, err := os.ReadFile(file); err == nil && detectSyntax(data) == syntaxKeepalived {
			return runL4(args)
		}
	}
	return runHAProxy(args)
}
