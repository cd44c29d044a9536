// Package proxyd is an nginx-compatible HTTP reverse proxy: it runs the
// configuration model of package config (itself read by package
// nginxconf) with nginx 1.22's behaviour for virtual hosts, locations,
// upstream selection, passive health, the request the upstream sees,
// access logs and error pages. DIFFERENCES.md lists where it departs from
// nginx, on purpose.
//
// A request flows through one file per concern:
//
//	server.go            listeners, accept loop, reload, shutdown
//	conn.go              one client connection: keep-alive loop
//	request.go, uri.go   request parsing, URI normalization and escaping
//	runtime.go           a loaded configuration; the request handler
//	vhost.go             server selection by listen address and Host
//	location.go          location selection in nginx's order
//	access.go            allow / deny
//	proxy.go             tries, proxy_next_upstream, request bodies
//	upstream.go          pools and peers; the policy/selector interfaces
//	balance_*.go         round robin, ip_hash, least_conn, hash [consistent]
//	upstream_request.go  the request line and headers sent upstream
//	transport.go         upstream connections, keep-alive cache, response heads
//	relay.go             the upstream response back to the client
//	websocket.go         upgraded connections
//	response.go          response heads, chunking, nginx's own responses
//	errorpage.go         nginx's status lines and error pages
//	vars.go, exchange.go nginx variables
//	accesslog.go         log_format rendering and log files
//	errlog.go            error_log lines
package proxyd
