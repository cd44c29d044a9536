package config

import (
	"fmt"
	"strings"
)

// Segment is a piece of a value with variables: literal text, or a
// variable name (without "$").
type Segment struct {
	Lit string
	Var string // non-empty for a variable
}

// Template is a value such as "$host:$server_port" split into segments.
type Template []Segment

// ParseTemplate splits s into literal text and variables, as nginx's
// script compiler does: "$name" or "${name}", names made of letters,
// digits and "_".
func ParseTemplate(s string) (Template, error) {
	var t Template
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		i++
		braced := i < len(s) && s[i] == '{'
		if braced {
			i++
		}
		start := i
		for i < len(s) && isVarChar(s[i]) {
			i++
			// a numeric capture like $1 is a single digit followed by anything
			if i-start == 1 && s[start] >= '0' && s[start] <= '9' && !braced {
				break
			}
		}
		name := s[start:i]
		if braced {
			if i >= len(s) || s[i] != '}' {
				return nil, fmt.Errorf(`the closing bracket in "%s" variable is missing`, name)
			}
			i++
		}
		if name == "" {
			return nil, fmt.Errorf(`invalid variable name in "%s"`, s)
		}
		if lit.Len() > 0 {
			t = append(t, Segment{Lit: lit.String()})
			lit.Reset()
		}
		t = append(t, Segment{Var: name})
	}
	if lit.Len() > 0 {
		t = append(t, Segment{Lit: lit.String()})
	}
	return t, nil
}

// HasVars reports whether the template contains any variable.
func (t Template) HasVars() bool {
	for _, s := range t {
		if s.Var != "" {
			return true
		}
	}
	return false
}

func isVarChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// knownVars are the variables proxyd can evaluate.
var knownVars = map[string]bool{
	"host": true, "remote_addr": true, "remote_port": true, "remote_user": true,
	"proxy_add_x_forwarded_for": true, "scheme": true, "request_uri": true, "uri": true,
	"document_uri": true, "args": true, "query_string": true, "is_args": true,
	"request_method": true, "server_name": true, "server_port": true, "server_addr": true,
	"server_protocol": true, "proxy_host": true, "proxy_port": true, "time_local": true,
	"time_iso8601": true, "msec": true, "request_time": true, "status": true,
	"body_bytes_sent": true, "bytes_sent": true, "request_length": true, "request": true,
	"upstream_addr": true, "upstream_status": true, "upstream_response_time": true,
	"upstream_connect_time": true, "upstream_header_time": true, "connection": true,
	"connection_requests": true, "pid": true, "hostname": true, "content_length": true,
	"content_type": true, "nginx_version": true, "http_host": true, "request_id": true,
	"binary_remote_addr": true, "pipe": true,
}

// KnownVariable reports whether name (without "$") is a variable proxyd
// knows: a fixed name, a prefixed family like http_NAME, or a capture $N.
func KnownVariable(name string) bool {
	if knownVars[name] {
		return true
	}
	for _, p := range []string{"http_", "sent_http_", "cookie_", "arg_", "upstream_http_"} {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return len(name) == 1 && name[0] >= '0' && name[0] <= '9'
}
