package main

import (
	"bufio"
	"bytes"
	"strings"
)

type syntax int

const (
	syntaxUnknown syntax = iota
	syntaxHAProxy
	syntaxKeepalived
)

// keepalivedBlocks are top-level keepalived.conf blocks.
var keepalivedBlocks = map[string]bool{
	"global_defs": true, "vrrp_instance": true, "vrrp_script": true, "vrrp_sync_group": true,
	"virtual_server": true, "virtual_server_group": true, "static_ipaddress": true,
	"static_routes": true, "static_rules": true, "linkbeat_interfaces": true,
}

// haproxySections are haproxy.cfg section keywords.
var haproxySections = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "resolvers": true,
}

// detectSyntax tells haproxy.cfg from keepalived.conf by the first
// decisive line: a keepalived block keyword followed by a brace (on the
// line or the next one), or a haproxy section keyword.
func detectSyntax(data []byte) syntax {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var pending bool
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#!"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if pending {
			if strings.HasPrefix(f[0], "{") {
				return syntaxKeepalived
			}
			pending = false
		}
		if keepalivedBlocks[f[0]] {
			if strings.Contains(line, "{") {
				return syntaxKeepalived
			}
			pending = true
			continue
		}
		if haproxySections[f[0]] {
			return syntaxHAProxy
		}
	}
	return syntaxUnknown
}

// firstConfigFile returns the first "-f FILE" (or "-fFILE", "--use-file
// FILE", "--use-file=FILE" for keepalived) of a command line.
func firstConfigFile(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-f" || a == "--use-file":
			if i+1 < len(args) {
				return args[i+1]
			}
		case strings.HasPrefix(a, "--use-file="):
			return strings.TrimPrefix(a, "--use-file=")
		case strings.HasPrefix(a, "-f") && len(a) > 2 && !strings.HasPrefix(a, "--"):
			return a[2:]
		}
	}
	return ""
}
