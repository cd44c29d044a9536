package config

import "time"

// scope collects the inheritable directives written at one level (http,
// server or location). Unset fields inherit from the enclosing level.
type scope struct {
	headers    []Header
	headersSet bool

	connectTimeout, readTimeout, sendTimeout *time.Duration
	nextUpstream                             *NextUpstream
	nextTries                                *int
	nextTimeout                              *time.Duration
	httpVersion                              *string

	access    []AccessRule
	accessSet bool

	accessLogs   []AccessLog
	accessLogSet bool

	serverTokens      *bool
	keepaliveTimeout  *time.Duration
	keepaliveRequests *int
	clientMaxBody     *int64
	proxyBuffering    *bool
	requestBuffering  *bool
	passHeaders       *bool
	passBody          *bool
	ignoreAbort       *bool
	root              *string
	index             []string
	tryFiles          []string
	defaultType       *string
	types             map[string]string
	hideHeaders       []string
	passHeaderNames   []string
}

// defaultSettings are nginx's defaults for the settings proxyd implements.
func defaultSettings() *Settings {
	return &Settings{
		ConnectTimeout:     60 * time.Second,
		ReadTimeout:        60 * time.Second,
		SendTimeout:        60 * time.Second,
		NextUpstream:       NextError | NextTimeout,
		HTTPVersion:        "1.0",
		ServerTokens:       true,
		KeepaliveTimeout:   75 * time.Second,
		KeepaliveRequests:  1000,
		ClientMaxBodySize:  1 << 20,
		ProxyBuffering:     true,
		RequestBuffering:   true,
		PassRequestHeaders: true,
		PassRequestBody:    true,
		DefaultType:        "text/plain",
		Index:              []string{"index.html"},
		// nginx's built-in map when no types block is given
		Types: map[string]string{"html": "text/html", "gif": "image/gif", "jpg": "image/jpeg"},
	}
}

// merge returns the settings of a level whose own directives are s and
// whose enclosing level has settings parent.
func (s *scope) merge(parent *Settings) *Settings {
	out := *parent
	if s.headersSet {
		out.SetHeaders = s.headers
	}
	setDur(&out.ConnectTimeout, s.connectTimeout)
	setDur(&out.ReadTimeout, s.readTimeout)
	setDur(&out.SendTimeout, s.sendTimeout)
	setDur(&out.NextUpstreamTimeout, s.nextTimeout)
	setDur(&out.KeepaliveTimeout, s.keepaliveTimeout)
	if s.nextUpstream != nil {
		out.NextUpstream = *s.nextUpstream
	}
	if s.nextTries != nil {
		out.NextUpstreamTries = *s.nextTries
	}
	if s.httpVersion != nil {
		out.HTTPVersion = *s.httpVersion
	}
	if s.accessSet {
		out.Access = s.access
	}
	if s.accessLogSet {
		out.AccessLogs = s.accessLogs
	}
	setBool(&out.ServerTokens, s.serverTokens)
	setBool(&out.ProxyBuffering, s.proxyBuffering)
	setBool(&out.RequestBuffering, s.requestBuffering)
	setBool(&out.PassRequestHeaders, s.passHeaders)
	setBool(&out.PassRequestBody, s.passBody)
	setBool(&out.IgnoreClientAbort, s.ignoreAbort)
	if s.keepaliveRequests != nil {
		out.KeepaliveRequests = *s.keepaliveRequests
	}
	if s.clientMaxBody != nil {
		out.ClientMaxBodySize = *s.clientMaxBody
	}
	if s.root != nil {
		out.Root = *s.root
	}
	if s.index != nil {
		out.Index = s.index
	}
	if s.tryFiles != nil {
		out.TryFiles = s.tryFiles
	}
	if s.types != nil {
		out.Types = s.types
	}
	if s.defaultType != nil {
		out.DefaultType = *s.defaultType
	}
	if s.hideHeaders != nil {
		out.HideHeaders = s.hideHeaders
	}
	if s.passHeaderNames != nil {
		out.PassHeaders = s.passHeaderNames
	}
	return &out
}

func setDur(dst *time.Duration, v *time.Duration) {
	if v != nil {
		*dst = *v
	}
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}
