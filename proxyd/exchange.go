package proxyd

import (
	"time"

	"halab/proxyd/config"
)

// exchange is one request/response in flight: everything nginx variables
// are computed from.
type exchange struct {
	c      *clientConn
	req    *request
	srv    *config.Server
	loc    *config.Location
	caps   []string
	pp     *config.ProxyPass
	start  time.Time
	status int

	bodySent   int64 // response body bytes written
	bytesSent  int64 // response bytes written, headers included
	reqLength  int64 // request bytes read, headers and body
	upAddrs    []string
	upStatuses []string
	upTimes    []string
	upConnect  []string
	upHeader   []string
	respHeader []header // response headers sent, for $sent_http_
	upHeaders  []header // last upstream response headers
	upURL      string   // "http://peer/uri" of the current try, for the error log

	keepAlive        bool             // keep the client connection after this response
	keepaliveTimeout time.Duration    // keepalive_timeout of the chosen location
	hijacked         bool             // connection taken over (WebSocket)
	bodyRead         bool             // request body consumed
	continued        bool             // 100 Continue sent
	redirects        int              // internal redirects so far
	settings         *config.Settings // of the location in force, for the access log
}
