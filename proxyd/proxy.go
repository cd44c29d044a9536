package proxyd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"halab/proxyd/config"
)

// reqBody is the request body as it will be sent upstream.
type reqBody struct {
	buf      []byte    // the whole body, when read before proxying
	stream   io.Reader // the rest of the body, when streamed
	length   int64     // Content-Length to send; -1: none
	chunked  bool      // stream with chunked encoding
	consumed bool      // streaming began: the body cannot be sent again
}

// bufferLimit is the largest Content-Length body read whole before
// proxying, so that it can be sent again to the next upstream; larger
// bodies are streamed.
const bufferLimit = 64 << 10

// prepareBody decides how the request body travels. It returns an HTTP
// status to answer with when the body cannot be read.
func (x *exchange) prepareBody(s *config.Settings) (*reqBody, int) {
	r := x.req
	b := &reqBody{length: -1}
	if !s.PassRequestBody {
		if !x.discardBody() {
			x.keepAlive = false
		}
		return b, 0
	}
	x.sendContinue() // nginx answers Expect even when there is no body
	if r.contentLen < 0 && !r.chunked {
		return b, 0
	}
	x.bodyRead = true
	_ = x.c.nc.SetReadDeadline(time.Now().Add(clientBodyTimeout))
	switch {
	case r.chunked && s.HTTPVersion == "1.1" && !s.RequestBuffering && !chunkedComplete(x.c.br):
		b.stream = &deadlineReader{r: &chunkedBody{br: x.c.br}, c: x.c.nc, timeout: clientBodyTimeout}
		b.chunked = true
	case r.chunked:
		data, err := readAllLimit(&chunkedBody{br: x.c.br}, s.ClientMaxBodySize)
		if err != nil {
			x.keepAlive = false
			if errors.Is(err, errBodyTooLarge) {
				return nil, 413
			}
			return nil, 400
		}
		b.buf, b.length = data, int64(len(data))
		x.reqLength += b.length
	case r.contentLen <= bufferLimit:
		data := make([]byte, r.contentLen)
		if _, err := io.ReadFull(x.c.br, data); err != nil {
			x.keepAlive = false
			return nil, 400
		}
		b.buf, b.length = data, r.contentLen
		x.reqLength += b.length
	default:
		b.stream = io.LimitReader(&deadlineReader{r: x.c.br, c: x.c.nc, timeout: clientBodyTimeout}, r.contentLen)
		b.length = r.contentLen
	}
	return b, 0
}

// failure kinds, as nginx's NGX_HTTP_UPSTREAM_FT_*.
type failure int

const (
	ftNone failure = iota
	ftError
	ftTimeout
	ftInvalidHeader
	ftHTTP
)

func (f failure) mask(status int) config.NextUpstream {
	switch f {
	case ftError:
		return config.NextError
	case ftTimeout:
		return config.NextTimeout
	case ftInvalidHeader:
		return config.NextInvalidHeader
	}
	switch status {
	case 500:
		return config.NextHTTP500
	case 502:
		return config.NextHTTP502
	case 503:
		return config.NextHTTP503
	case 504:
		return config.NextHTTP504
	case 403:
		return config.NextHTTP403
	case 404:
		return config.NextHTTP404
	case 429:
		return config.NextHTTP429
	}
	return 0
}

func (f failure) status() int {
	if f == ftTimeout {
		return 504
	}
	return 502
}

func nonIdempotent(method string) bool {
	return method == "POST" || method == "LOCK" || method == "PATCH"
}

// upstreamRun is a request on its way to a location's upstream: the request
// as it will be sent and the tries left.
type upstreamRun struct {
	pl          *pool
	s           *config.Settings
	body        *reqBody
	uri         string
	head        []byte
	sel         selector
	tries       int
	start       time.Time
	requestSent bool // some try sent the request
}

// startProxy prepares passing the request to the location's upstream. It
// returns nil when the request was answered instead (a body it could not
// read).
func (rt *runtime) startProxy(x *exchange, loc *config.Location) *upstreamRun {
	s := loc.Settings
	pp := loc.ProxyPass
	pl := rt.pools[pp.Upstream]
	x.pp = pp
	body, status := x.prepareBody(s)
	if status != 0 {
		x.sendSpecial(status, "", s.ServerTokens)
		return nil
	}
	uri := upstreamURI(x.req, loc, pp)
	pr := &upstreamRun{pl: pl, s: s, body: body, uri: uri, start: time.Now()}
	x.startTries()
	pr.head = x.upstreamHead(s, uri, body, &rt.tpls)
	pr.sel = pl.policy.start(pl, x)
	pr.tries = pr.sel.tries()
	if s.NextUpstreamTries > 0 && s.NextUpstreamTries < pr.tries {
		pr.tries = s.NextUpstreamTries
	}
	return pr
}

// nextPeer chooses the peer of the next try. With none live it answers
// 502 and returns nil.
func (rt *runtime) nextPeer(x *exchange, pr *upstreamRun) *peer {
	pe := pr.sel.next(time.Now())
	if pe == nil {
		x.upAddrs = append(x.upAddrs, pr.pl.name)
		x.upStatuses = append(x.upStatuses, 502)
		x.upTimes = append(x.upTimes, 0)
		rt.errLog.log("error", x, "no live upstreams while connecting to upstream", "http://"+pr.pl.name+pr.uri)
		x.sendSpecial(502, "", pr.s.ServerTokens)
		return nil
	}
	pr.tries--
	x.upPeer, x.upURI = pe.name, pr.uri
	x.upAddrs = append(x.upAddrs, pe.name)
	return pe
}

// verdict is what follows a try.
type verdict int

const (
	passResponse verdict = iota // relay the response to the client
	tryNext                     // try the next peer
	giveUp                      // answer with the failure's status
)

// judge records the outcome of a try at pe (the response head, or the
// failure ft with its error) and decides what follows, as nginx's
// proxy_next_upstream does. The peer is freed unless the response passes.
func (rt *runtime) judge(x *exchange, pr *upstreamRun, pe *peer, res *upResponse, ft failure, sent, cached bool, err error, t0 time.Time) verdict {
	pr.requestSent = pr.requestSent || sent
	elapsed := time.Since(t0)
	if ft == ftNone || ft == ftHTTP {
		x.upStatuses = append(x.upStatuses, res.status)
	} else {
		x.upStatuses = append(x.upStatuses, ft.status())
	}
	x.upTimes = append(x.upTimes, elapsed)
	if ft == ftNone {
		return passResponse
	}
	s := pr.s
	mask := ft.mask(statusOf(res))
	if ft == ftHTTP {
		// nginx tries the next upstream on an http_* condition only
		// while more tries remain; the last response passes through.
		if pr.tries > 0 && s.NextUpstream.Has(mask) && x.canRetry(s, pr.body, pr.requestSent, pr.start) {
			pr.sel.free(pe, !(res.status == 403 || res.status == 404), time.Now())
			return tryNext
		}
		return passResponse
	}
	pr.sel.free(pe, true, time.Now())
	rt.errLog.log("error", x, upstreamErrorText(ft, err, sent), x.upURL())
	if cached && ft == ftError {
		pr.tries++
	}
	if pr.tries <= 0 || !s.NextUpstream.Has(mask) || !x.canRetry(s, pr.body, pr.requestSent, pr.start) {
		return giveUp
	}
	return tryNext
}

// proxy passes the request to the location's upstream, trying further
// peers as proxy_next_upstream allows.
func (rt *runtime) proxy(ctx context.Context, x *exchange, loc *config.Location) {
	pr := rt.startProxy(x, loc)
	if pr == nil {
		return
	}
	for {
		pe := rt.nextPeer(x, pr)
		if pe == nil {
			return
		}
		t0 := time.Now()
		u, res, ft, sent, err := rt.try(ctx, x, pr.pl, pe, pr.head, pr.body, pr.s)
		v := rt.judge(x, pr, pe, res, ft, sent, u != nil && u.cached, err, t0)
		if v == passResponse {
			rt.relay(x, u, res, pr.pl, pe, pr.sel, pr.s)
			return
		}
		if u != nil {
			u.close()
		}
		if v == giveUp {
			x.sendSpecial(ft.status(), "", pr.s.ServerTokens)
			return
		}
	}
}

func statusOf(res *upResponse) int {
	if res == nil {
		return 0
	}
	return res.status
}

// canRetry applies nginx's limits on passing a request to the next
// upstream: non-idempotent requests already sent, unbuffered bodies
// already sent, and proxy_next_upstream_timeout.
func (x *exchange) canRetry(s *config.Settings, body *reqBody, sent bool, start time.Time) bool {
	if s.NextUpstream.Has(config.NextOff) {
		return false
	}
	if sent && nonIdempotent(x.req.method) && !s.NextUpstream.Has(config.NextNonIdempotent) {
		return false
	}
	if body.consumed {
		return false
	}
	if s.NextUpstreamTimeout > 0 && time.Since(start) >= s.NextUpstreamTimeout {
		return false
	}
	return true
}

func upstreamErrorText(ft failure, err error, sent bool) string {
	switch {
	case ft == ftTimeout && !sent:
		return "upstream timed out (110: Connection timed out) while connecting to upstream"
	case ft == ftTimeout:
		return "upstream timed out (110: Connection timed out) while reading response header from upstream"
	case ft == ftInvalidHeader:
		return "upstream sent invalid header while reading response header from upstream"
	case errors.Is(err, errUpstreamClosed):
		return "upstream prematurely closed connection while reading response header from upstream"
	case !sent:
		return "connect() failed (" + errnoText(err) + ") while connecting to upstream"
	}
	return "recv() failed (" + errnoText(err) + ") while reading response header from upstream"
}

func errnoText(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "111: Connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "104: Connection reset by peer"
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// try sends the request to one peer and reads the response header.
func (rt *runtime) try(ctx context.Context, x *exchange, pl *pool, pe *peer, head []byte, body *reqBody, s *config.Settings) (u *upConn, res *upResponse, ft failure, sent bool, err error) {
	if pl.idle != nil {
		u = pl.idle.get(pe.addr)
	}
	t0 := time.Now()
	if u != nil {
		x.upConnect = append(x.upConnect, 0)
	} else {
		u, err = dial(ctx, pe.addr, s.ConnectTimeout)
		x.upConnect = append(x.upConnect, time.Since(t0))
		if err != nil {
			if isTimeout(err) {
				return nil, nil, ftTimeout, false, err
			}
			return nil, nil, ftError, false, err
		}
	}
	sent = true
	if err := writeUpstream(u, head, body, s.SendTimeout); err != nil {
		if isTimeout(err) {
			return u, nil, ftTimeout, sent, err
		}
		return u, nil, ftError, sent, err
	}
	_ = u.nc.SetReadDeadline(time.Now().Add(s.ReadTimeout))
	res, err = readResponseHead(u.br, x.req.method)
	if err != nil {
		switch {
		case isTimeout(err):
			return u, nil, ftTimeout, sent, err
		case errors.Is(err, errInvalidHeader):
			return u, nil, ftInvalidHeader, sent, err
		}
		return u, nil, ftError, sent, err
	}
	return u, res, x.responseHead(res, s, t0), sent, nil
}

// responseHead records a response head that came from a try started at
// t0 and tells whether proxy_next_upstream calls it a failure (ftHTTP).
func (x *exchange) responseHead(res *upResponse, s *config.Settings, t0 time.Time) failure {
	x.upHeader = append(x.upHeader, time.Since(t0))
	x.upHeaders = res.headers
	if m := ftHTTP.mask(res.status); m != 0 && s.NextUpstream.Has(m) {
		return ftHTTP
	}
	return ftNone
}

// writeUpstream sends the request head and body.
func writeUpstream(u *upConn, head []byte, body *reqBody, timeout time.Duration) error {
	_ = u.nc.SetWriteDeadline(time.Now().Add(timeout))
	switch {
	case body.buf != nil:
		bufs := net.Buffers{head, body.buf}
		if _, err := bufs.WriteTo(u.nc); err != nil {
			return err
		}
	case body.stream != nil:
		if _, err := u.nc.Write(head); err != nil {
			return err
		}
		body.consumed = true
		w := io.Writer(&deadlineWriter{c: u.nc, timeout: timeout})
		if body.chunked {
			cw := newChunkWriter(w)
			if _, err := io.Copy(cw, body.stream); err != nil {
				return err
			}
			if _, err := io.WriteString(w, "0\r\n\r\n"); err != nil {
				return err
			}
		} else if _, err := io.Copy(w, body.stream); err != nil {
			return err
		}
	default:
		if _, err := u.nc.Write(head); err != nil {
			return err
		}
	}
	_ = u.nc.SetWriteDeadline(time.Time{})
	return nil
}

// chunkWriter writes each Write as one chunk.
type chunkWriter struct{ w io.Writer }

func newChunkWriter(w io.Writer) *chunkWriter { return &chunkWriter{w} }

func (c *chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var b bytes.Buffer
	b.WriteString(strconv.FormatInt(int64(len(p)), 16))
	b.WriteString("\r\n")
	b.Write(p)
	b.WriteString("\r\n")
	if _, err := c.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
