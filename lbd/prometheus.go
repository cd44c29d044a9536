package lbd

import (
	"bufio"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// promMetric is one exported family: name, help, type.
type promMetric struct{ name, help, typ string }

// Prometheus renders the metrics HAProxy 2.6's built-in exporter serves,
// with the same names, labels and types, for the subset lbd tracks.
func (in *Instance) Prometheus() string {
	var b strings.Builder
	family := func(m promMetric) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
	}
	family(promMetric{"haproxy_process_nbthread", "Number of started threads (global.nbthread)", "gauge"})
	fmt.Fprintf(&b, "haproxy_process_nbthread %d\n", runtime.GOMAXPROCS(0))
	family(promMetric{"haproxy_process_uptime_seconds", "How long ago this worker process was started (seconds)", "gauge"})
	fmt.Fprintf(&b, "haproxy_process_uptime_seconds %d\n", int(time.Since(in.start).Seconds()))
	rows := in.statsRows()
	codes := []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
	type gen struct {
		m   promMetric
		typ int
		val func(r statsRow) string
	}
	u := func(v uint64) string { return fmt.Sprint(v) }
	gens := []gen{
		{promMetric{"haproxy_frontend_current_sessions", "Number of current sessions on the frontend, backend or server", "gauge"}, 0, func(r statsRow) string { return u(r.scur) }},
		{promMetric{"haproxy_frontend_max_sessions", "Highest value of current sessions encountered since process started", "gauge"}, 0, func(r statsRow) string { return u(r.smax) }},
		{promMetric{"haproxy_frontend_sessions_total", "Total number of sessions since process started", "counter"}, 0, func(r statsRow) string { return u(r.stot) }},
		{promMetric{"haproxy_frontend_bytes_in_total", "Total number of request bytes since process started", "counter"}, 0, func(r statsRow) string { return u(r.bin) }},
		{promMetric{"haproxy_frontend_bytes_out_total", "Total number of response bytes since process started", "counter"}, 0, func(r statsRow) string { return u(r.bout) }},
		{promMetric{"haproxy_frontend_requests_denied_total", "Total number of denied requests since process started", "counter"}, 0, func(r statsRow) string { return u(r.dreq) }},
		{promMetric{"haproxy_frontend_request_errors_total", "Total number of invalid requests since process started", "counter"}, 0, func(r statsRow) string { return u(r.ereq) }},
		{promMetric{"haproxy_frontend_http_requests_total", "Total number of HTTP requests processed by this object since the worker process started", "counter"}, 0, func(r statsRow) string { return u(r.reqTot) }},
		{promMetric{"haproxy_backend_current_sessions", "Number of current sessions on the frontend, backend or server", "gauge"}, 1, func(r statsRow) string { return u(r.scur) }},
		{promMetric{"haproxy_backend_sessions_total", "Total number of sessions since process started", "counter"}, 1, func(r statsRow) string { return u(r.stot) }},
		{promMetric{"haproxy_backend_bytes_in_total", "Total number of request bytes since process started", "counter"}, 1, func(r statsRow) string { return u(r.bin) }},
		{promMetric{"haproxy_backend_bytes_out_total", "Total number of response bytes since process started", "counter"}, 1, func(r statsRow) string { return u(r.bout) }},
		{promMetric{"haproxy_backend_connection_errors_total", "Total number of failed connections to server since the worker process started", "counter"}, 1, func(r statsRow) string { return u(r.econ) }},
		{promMetric{"haproxy_backend_response_errors_total", "Total number of invalid responses since the worker process started", "counter"}, 1, func(r statsRow) string { return u(r.eresp) }},
		{promMetric{"haproxy_backend_retry_warnings_total", "Total number of server connection retries since the worker process started", "counter"}, 1, func(r statsRow) string { return u(r.wretr) }},
		{promMetric{"haproxy_backend_redispatch_warnings_total", "Total number of server redispatches due to connection failures since the worker process started", "counter"}, 1, func(r statsRow) string { return u(r.wredis) }},
		{promMetric{"haproxy_backend_weight", "Server's effective weight, or sum of active servers' effective weights for a backend", "gauge"}, 1, func(r statsRow) string { return fmt.Sprint(r.weight) }},
		{promMetric{"haproxy_backend_active_servers", "Total number of active UP servers with a non-zero weight", "gauge"}, 1, func(r statsRow) string { return fmt.Sprint(r.act) }},
		{promMetric{"haproxy_backend_backup_servers", "Total number of backup UP servers with a non-zero weight", "gauge"}, 1, func(r statsRow) string { return fmt.Sprint(r.bck) }},
		{promMetric{"haproxy_backend_loadbalanced_total", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)", "counter"}, 1, func(r statsRow) string { return u(r.lbtot) }},
		{promMetric{"haproxy_backend_http_requests_total", "Total number of HTTP requests processed by this object since the worker process started", "counter"}, 1, func(r statsRow) string { return u(r.reqTot) }},
		{promMetric{"haproxy_server_current_sessions", "Number of current sessions on the frontend, backend or server", "gauge"}, 2, func(r statsRow) string { return u(r.scur) }},
		{promMetric{"haproxy_server_max_sessions", "Highest value of current sessions encountered since process started", "gauge"}, 2, func(r statsRow) string { return u(r.smax) }},
		{promMetric{"haproxy_server_sessions_total", "Total number of sessions since process started", "counter"}, 2, func(r statsRow) string { return u(r.stot) }},
		{promMetric{"haproxy_server_bytes_in_total", "Total number of request bytes since process started", "counter"}, 2, func(r statsRow) string { return u(r.bin) }},
		{promMetric{"haproxy_server_bytes_out_total", "Total number of response bytes since process started", "counter"}, 2, func(r statsRow) string { return u(r.bout) }},
		{promMetric{"haproxy_server_connection_errors_total", "Total number of failed connections to server since the worker process started", "counter"}, 2, func(r statsRow) string { return u(r.econ) }},
		{promMetric{"haproxy_server_response_errors_total", "Total number of invalid responses since the worker process started", "counter"}, 2, func(r statsRow) string { return u(r.eresp) }},
		{promMetric{"haproxy_server_retry_warnings_total", "Total number of server connection retries since the worker process started", "counter"}, 2, func(r statsRow) string { return u(r.wretr) }},
		{promMetric{"haproxy_server_redispatch_warnings_total", "Total number of server redispatches due to connection failures since the worker process started", "counter"}, 2, func(r statsRow) string { return u(r.wredis) }},
		{promMetric{"haproxy_server_weight", "Server's effective weight, or sum of active servers' effective weights for a backend", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.weight) }},
		{promMetric{"haproxy_server_check_failures_total", "Total number of failed individual health checks per server/backend, since the worker process started", "counter"}, 2, func(r statsRow) string {
			if !r.hasCheck {
				return "NaN"
			}
			return u(r.chkfail)
		}},
		{promMetric{"haproxy_server_check_up_down_total", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started", "counter"}, 2, func(r statsRow) string {
			if !r.hasCheck {
				return "NaN"
			}
			return u(r.chkdown)
		}},
		{promMetric{"haproxy_server_check_last_change_seconds", "How long ago the last server state changed, in seconds", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.lastchg) }},
		{promMetric{"haproxy_server_loadbalanced_total", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)", "counter"}, 2, func(r statsRow) string { return u(r.lbtot) }},
		{promMetric{"haproxy_server_idle_connections_current", "Current number of idle connections available for reuse on this server", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.conns.idle) }},
		{promMetric{"haproxy_server_idle_connections_limit", "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)", "gauge"}, 2, func(r statsRow) string {
			if r.conns.limit < 0 {
				return "NaN"
			}
			return fmt.Sprint(r.conns.limit)
		}},
		{promMetric{"haproxy_server_unsafe_idle_connections_current", "Current number of unsafe idle connections", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.conns.unsafeIdle) }},
		{promMetric{"haproxy_server_safe_idle_connections_current", "Current number of safe idle connections", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.conns.safeIdle) }},
		{promMetric{"haproxy_server_used_connections_current", "Current number of connections in use", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.conns.used) }},
		{promMetric{"haproxy_server_need_connections_current", "Estimated needed number of connections", "gauge"}, 2, func(r statsRow) string { return fmt.Sprint(r.conns.need) }},
	}
	labels := func(r statsRow) string {
		if r.typ == 2 {
			return fmt.Sprintf(`proxy=%q,server=%q`, r.px, r.sv)
		}
		return fmt.Sprintf(`proxy=%q`, r.px)
	}
	for _, g := range gens {
		family(g.m)
		for _, r := range rows {
			if r.typ == g.typ {
				fmt.Fprintf(&b, "%s{%s} %s\n", g.m.name, labels(r), g.val(r))
			}
		}
	}
	for _, tn := range []struct {
		typ  int
		name string
	}{{1, "haproxy_backend_status"}, {2, "haproxy_server_status"}} {
		typ, name := tn.typ, tn.name
		family(promMetric{name, "Current status of the service, per state label value.", "gauge"})
		states := []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
		if typ == 1 {
			states = states[:2]
		}
		for _, r := range rows {
			if r.typ != typ {
				continue
			}
			st := strings.Fields(r.status + " x")[0]
			if st == "no" {
				st = "UP"
			}
			for _, s := range states {
				fmt.Fprintf(&b, "%s{%s,state=%q} %d\n", name, labels(r), s, b2i(st == s))
			}
		}
	}
	for typ, name := range []string{"haproxy_frontend_http_responses_total", "haproxy_backend_http_responses_total", "haproxy_server_http_responses_total"} {
		family(promMetric{name, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started", "counter"})
		for _, r := range rows {
			if r.typ != typ {
				continue
			}
			for i, code := range codes {
				fmt.Fprintf(&b, "%s{%s,code=%q} %d\n", name, labels(r), code, r.hrsp[i])
			}
		}
	}
	return b.String()
}

// servePrometheus answers "http-request use-service prometheus-exporter".
func (c *clientConn) servePrometheus(tx *txn, bw *bufio.Writer, keep bool) bool {
	writeSimple(bw, 200, "OK", "text/plain; version=0.0.4", c.fe.in.Prometheus(), keep)
	return keep
}
