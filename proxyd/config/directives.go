package config

import (
	"strconv"
	"strings"

	"halab/proxyd/nginxconf"
)

// spec describes a directive: where it may appear, how many arguments it
// takes and what it does. A nil fn accepts the directive and ignores it.
type spec struct {
	ctx   ctxMask
	min   int
	max   int // -1: no limit
	block bool
	once  bool // "is duplicate" when repeated in one block
	flag  bool // takes "on" or "off"
	// anyBlock lets fn check the block itself ("server" is a block in
	// http and a simple directive in upstream).
	anyBlock bool
	fn       func(b *builder, d *nginxconf.Directive, f *frame) error
}

func one(ctx ctxMask, fn func(*builder, *nginxconf.Directive, *frame) error) spec {
	return spec{ctx: ctx, min: 1, max: 1, fn: fn}
}

func flagSpec(ctx ctxMask, fn func(*builder, *nginxconf.Directive, *frame) error) spec {
	return spec{ctx: ctx, min: 1, max: 1, flag: true, once: true, fn: fn}
}

// specs lists every directive proxyd knows. Directives with a nil fn are
// accepted for compatibility with stock configurations and have no effect
// (see DIFFERENCES.md).
var specs map[string]spec

func init() {
	specs = map[string]spec{
		// main context
		"daemon":                  flagSpec(ctxMain, (*builder).daemon),
		"pid":                     {ctx: ctxMain, min: 1, max: 1, once: true, fn: (*builder).pid},
		"user":                    {ctx: ctxMain, min: 1, max: 2, once: true, fn: (*builder).user},
		"worker_processes":        {ctx: ctxMain, min: 1, max: 1, once: true, fn: (*builder).workerProcesses},
		"error_log":               {ctx: ctxMain | ctxHSL, min: 1, max: 2, fn: (*builder).errorLog},
		"events":                  {ctx: ctxMain, block: true, once: true, fn: (*builder).events},
		"http":                    {ctx: ctxMain, block: true, once: true, fn: (*builder).http},
		"load_module":             {ctx: ctxMain, min: 1, max: 1},
		"worker_rlimit_nofile":    {ctx: ctxMain, min: 1, max: 1},
		"worker_shutdown_timeout": {ctx: ctxMain, min: 1, max: 1},
		"pcre_jit":                flagSpec(ctxMain, nil),
		"env":                     {ctx: ctxMain, min: 1, max: 1},
		"master_process":          flagSpec(ctxMain, nil),

		// events
		"worker_connections": one(ctxEvents, (*builder).workerConnections),
		"multi_accept":       flagSpec(ctxEvents, nil),
		"accept_mutex":       flagSpec(ctxEvents, nil),
		"use":                {ctx: ctxEvents, min: 1, max: 1},

		// http core
		"log_format":  {ctx: ctxHTTP, min: 2, max: -1, fn: (*builder).logFormat},
		"access_log":  {ctx: ctxHSL, min: 1, max: -1, fn: (*builder).accessLog},
		"upstream":    {ctx: ctxHTTP, min: 1, max: 1, block: true, fn: (*builder).upstream},
		"server":      {ctx: ctxHTTP | ctxUpstream, min: 0, max: -1, anyBlock: true, fn: (*builder).server},
		"listen":      {ctx: ctxServer, min: 1, max: -1, fn: (*builder).listen},
		"server_name": {ctx: ctxServer, min: 1, max: -1, fn: (*builder).serverName},
		"location":    {ctx: ctxServer | ctxLocation, min: 1, max: 2, block: true, fn: (*builder).location},
		"return":      {ctx: ctxServer | ctxLocation, min: 1, max: 2, fn: (*builder).returnDirective},
		"allow":       one(ctxHSL, (*builder).allowDeny),
		"deny":        one(ctxHSL, (*builder).allowDeny),
		"server_tokens": flagSpec(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			return setBoolField(&f.scope.serverTokens, d)
		}),
		"keepalive_timeout":    {ctx: ctxHSL, min: 1, max: 2, once: true, fn: (*builder).keepaliveTimeout},
		"keepalive_requests":   {ctx: ctxHSL, min: 1, max: 1, once: true, fn: (*builder).keepaliveRequests},
		"client_max_body_size": {ctx: ctxHSL, min: 1, max: 1, once: true, fn: (*builder).clientMaxBodySize},

		// upstream
		"ip_hash":        {ctx: ctxUpstream, min: 0, max: 0, fn: (*builder).balance},
		"least_conn":     {ctx: ctxUpstream, min: 0, max: 0, fn: (*builder).balance},
		"hash":           {ctx: ctxUpstream, min: 1, max: 2, fn: (*builder).balance},
		"keepalive":      {ctx: ctxUpstream, min: 1, max: 1, fn: (*builder).upstreamKeepalive},
		"keepalive_time": {ctx: ctxUpstream, min: 1, max: 1},
		"zone":           {ctx: ctxUpstream, min: 1, max: 2},

		// proxy
		"proxy_pass":                  {ctx: ctxLocation, min: 1, max: 1, once: true, fn: (*builder).proxyPass},
		"proxy_set_header":            {ctx: ctxHSL, min: 2, max: 2, fn: (*builder).proxySetHeader},
		"proxy_connect_timeout":       {ctx: ctxHSL, min: 1, max: 1, once: true, fn: timeoutField(func(s *scope) **timeDur { return &s.connectTimeout })},
		"proxy_read_timeout":          {ctx: ctxHSL, min: 1, max: 1, once: true, fn: timeoutField(func(s *scope) **timeDur { return &s.readTimeout })},
		"proxy_send_timeout":          {ctx: ctxHSL, min: 1, max: 1, once: true, fn: timeoutField(func(s *scope) **timeDur { return &s.sendTimeout })},
		"proxy_next_upstream_timeout": {ctx: ctxHSL, min: 1, max: 1, once: true, fn: timeoutField(func(s *scope) **timeDur { return &s.nextTimeout })},
		"proxy_next_upstream":         {ctx: ctxHSL, min: 1, max: -1, once: true, fn: (*builder).nextUpstream},
		"proxy_next_upstream_tries":   {ctx: ctxHSL, min: 1, max: 1, once: true, fn: (*builder).nextTries},
		"proxy_http_version":          {ctx: ctxHSL, min: 1, max: 1, once: true, fn: (*builder).httpVersion},
		"proxy_buffering": flagSpec(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			return setBoolField(&f.scope.proxyBuffering, d)
		}),
		"proxy_request_buffering": flagSpec(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			return setBoolField(&f.scope.requestBuffering, d)
		}),
		"proxy_pass_request_headers": flagSpec(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			return setBoolField(&f.scope.passHeaders, d)
		}),
		"proxy_pass_request_body": flagSpec(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			return setBoolField(&f.scope.passBody, d)
		}),
		"proxy_ignore_client_abort": flagSpec(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			return setBoolField(&f.scope.ignoreAbort, d)
		}),
		"proxy_hide_header": one(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			f.scope.hideHeaders = append(f.scope.hideHeaders, d.Args[0])
			return nil
		}),
		"proxy_pass_header": one(ctxHSL, func(b *builder, d *nginxconf.Directive, f *frame) error {
			f.scope.passHeaderNames = append(f.scope.passHeaderNames, d.Args[0])
			return nil
		}),
		"proxy_buffers":              {ctx: ctxHSL, min: 2, max: 2, once: true},
		"proxy_buffer_size":          {ctx: ctxHSL, min: 1, max: 1, once: true},
		"proxy_busy_buffers_size":    {ctx: ctxHSL, min: 1, max: 1, once: true},
		"proxy_max_temp_file_size":   {ctx: ctxHSL, min: 1, max: 1, once: true},
		"proxy_temp_file_write_size": {ctx: ctxHSL, min: 1, max: 1, once: true},
		"proxy_redirect":             {ctx: ctxHSL, min: 1, max: 2},
		"proxy_intercept_errors":     flagSpec(ctxHSL, nil),
		"proxy_socket_keepalive":     flagSpec(ctxHSL, nil),

		// static files
		"root": {ctx: ctxHSL, min: 1, max: 1, once: true, fn: func(b *builder, d *nginxconf.Directive, f *frame) error {
			v := b.path(d.Args[0])
			f.scope.root = &v
			return nil
		}},
		"index": {ctx: ctxHSL, min: 1, max: -1, fn: func(b *builder, d *nginxconf.Directive, f *frame) error {
			for _, a := range d.Args {
				if a == "" {
					return d.Errorf(`index "" in "index" directive is invalid`)
				}
				if err := checkVars(a); err != nil {
					return d.Errorf("%s", err.Error())
				}
			}
			f.scope.index = append(f.scope.index, d.Args...)
			return nil
		}},
		"try_files": {ctx: ctxServer | ctxLocation, min: 2, max: -1, once: true, fn: func(b *builder, d *nginxconf.Directive, f *frame) error {
			for _, a := range d.Args {
				if err := checkVars(a); err != nil {
					return d.Errorf("%s", err.Error())
				}
			}
			last := d.Args[len(d.Args)-1]
			if strings.HasPrefix(last, "@") {
				return d.Errorf(`named locations are not supported by proxyd: "%s"`, last)
			}
			if strings.HasPrefix(last, "=") {
				if n, err := strconv.Atoi(last[1:]); err != nil || n < 0 || n > 999 {
					return d.Errorf(`invalid code "%s"`, last)
				}
			}
			f.scope.tryFiles = d.Args
			return nil
		}},

		// accepted for compatibility with stock nginx.conf files
		"types": {ctx: ctxHSL, block: true, fn: (*builder).types},
		"default_type": {ctx: ctxHSL, min: 1, max: 1, once: true, fn: func(b *builder, d *nginxconf.Directive, f *frame) error {
			v := d.Args[0]
			f.scope.defaultType = &v
			return nil
		}},
		"sendfile":                      flagSpec(ctxHSL, nil),
		"tcp_nopush":                    flagSpec(ctxHSL, nil),
		"tcp_nodelay":                   flagSpec(ctxHSL, nil),
		"types_hash_max_size":           {ctx: ctxHSL, min: 1, max: 1},
		"types_hash_bucket_size":        {ctx: ctxHSL, min: 1, max: 1},
		"server_names_hash_bucket_size": {ctx: ctxHTTP, min: 1, max: 1},
		"server_names_hash_max_size":    {ctx: ctxHTTP, min: 1, max: 1},
		"server_name_in_redirect":       flagSpec(ctxHSL, nil),
		"ssl_protocols":                 {ctx: ctxHTTP | ctxServer, min: 1, max: -1},
		"ssl_prefer_server_ciphers":     flagSpec(ctxHTTP|ctxServer, nil),
		"gzip":                          flagSpec(ctxHSL, nil),
		"gzip_vary":                     flagSpec(ctxHSL, nil),
		"gzip_proxied":                  {ctx: ctxHSL, min: 1, max: -1},
		"gzip_comp_level":               {ctx: ctxHSL, min: 1, max: 1},
		"gzip_buffers":                  {ctx: ctxHSL, min: 2, max: 2},
		"gzip_http_version":             {ctx: ctxHSL, min: 1, max: 1},
		"gzip_types":                    {ctx: ctxHSL, min: 1, max: -1},
		"client_body_buffer_size":       {ctx: ctxHSL, min: 1, max: 1},
		"client_header_timeout":         {ctx: ctxHTTP | ctxServer, min: 1, max: 1},
		"client_body_timeout":           {ctx: ctxHSL, min: 1, max: 1},
		"send_timeout":                  {ctx: ctxHSL, min: 1, max: 1},
		"large_client_header_buffers":   {ctx: ctxHTTP | ctxServer, min: 2, max: 2},
		"reset_timedout_connection":     flagSpec(ctxHSL, nil),
		"charset":                       {ctx: ctxHSL, min: 1, max: 1},
		"resolver":                      {ctx: ctxHSL, min: 1, max: -1},
		"resolver_timeout":              {ctx: ctxHSL, min: 1, max: 1},
		"open_file_cache":               {ctx: ctxHSL, min: 1, max: 2},
		"log_not_found":                 flagSpec(ctxHSL, nil),
		"absolute_redirect":             flagSpec(ctxHSL, nil),
		"port_in_redirect":              flagSpec(ctxHSL, nil),
		"merge_slashes":                 flagSpec(ctxHTTP|ctxServer, nil),
		"underscores_in_headers":        flagSpec(ctxHTTP|ctxServer, nil),
		"ignore_invalid_headers":        flagSpec(ctxHTTP|ctxServer, nil),
	}
}
