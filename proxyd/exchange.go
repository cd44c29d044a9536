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

	bodySent  int64 // response body bytes written
	bytesSent int64 // response bytes written, headers included
	reqLength int64 // request bytes read, headers and body
	// the $upstream_* lists, one entry per try (backed by tryBuf for
	// the first two tries)
	upAddrs    []string
	upStatuses []int
	upTimes    []time.Duration
	upConnect  []time.Duration
	upHeader   []time.Duration
	tryBuf     struct {
		addrs               [2]string
		statuses            [2]int
		times, connect, hdr [2]time.Duration
	}
	sent      *respHead // the response head sent, for $sent_http_
	upHeaders []header  // last upstream response headers
	upPeer    string    // the current try's peer and URI, for the error log
	upURI     string

	keepAlive        bool             // keep the client connection after this response
	keepaliveTimeout time.Duration    // keepalive_timeout of the chosen location
	hijacked         bool             // connection taken over (WebSocket)
	bodyRead         bool             // request body consumed
	continued        bool             // 100 Continue sent
	redirects        int              // internal redirects so far
	settings         *config.Settings // of the location in force, for the access log
}

// upURL is "http://peer/uri" of the current try, for the error log.
func (x *exchange) upURL() string { return "http://" + x.upPeer + x.upURI }

// startTries points the $upstream_* lists at the exchange's own storage:
// one allocation less per list for the first two tries.
func (x *exchange) startTries() {
	if x.upAddrs != nil {
		return // (a second proxy_pass after an internal redirect)
	}
	b := &x.tryBuf
	x.upAddrs, x.upStatuses = b.addrs[:0], b.statuses[:0]
	x.upTimes, x.upConnect, x.upHeader = b.times[:0], b.connect[:0], b.hdr[:0]
}
