package lbd

import (
	"bufio"
	"strconv"
	"strings"
	"time"
)

// The phases of one HTTP transaction that do not depend on how the
// connections are driven: the goroutine of serveHTTP and the event loop
// (http_loop.go) both run them, in this order: newTxn, begin, the exchange
// with a server (theirs), noteServer, then answerFailure or respondHead,
// the body (theirs) and serverDone, and endTxn last.

// newTxn starts a transaction for req, read between start and hdrs.
func (c *clientConn) newTxn(req *Request, bw *bufio.Writer, start, hdrs time.Time) *txn {
	tx := &txn{
		fe: c.fe, src: c.src, dst: c.dst, req: req,
		keep:  clientKeepAlive(req) && !c.fe.in.isStopping(),
		out0:  c.out.n + int64(bw.Buffered()),
		trace: initialReqLog(start),
	}
	tx.log = &tx.trace
	tx.log.headers = hdrs
	tx.log.reqLine = req.requestLine()
	return tx
}

// endTxn logs the transaction, before its last bytes are flushed.
func (c *clientConn) endTxn(tx *txn, bw *bufio.Writer) {
	tx.log.bytes = c.out.n + int64(bw.Buffered()) - tx.out0
	c.emitLog(tx.log)
}

// begin runs the http-request rules, the stats and Prometheus services
// and backend selection, then readies the request for a server. It
// reports whether the request was answered here (tx.keep then tells
// whether the connection stays).
func (c *clientConn) begin(tx *txn, bw *bufio.Writer) bool {
	fe, req, l := c.fe, tx.req, tx.log
	if done, k := c.requestRules(tx, fe.Cfg, bw, tx.keep); done {
		tx.keep = k
		return true
	}
	if st := fe.Cfg.Stats; st != nil && st.Enabled && strings.HasPrefix(req.URI, st.URI) {
		drain(req.Body)
		tx.keep = c.serveStats(tx, bw, tx.keep)
		fe.countStatus(200)
		l.status, l.term, l.server = 200, "LR", "<STATS>"
		return true
	}
	be := fe.backendFor(tx)
	if be == nil {
		drain(req.Body)
		fe.countStatus(503)
		l.status, l.term = 503, "SC"
		tx.keep = writeError(bw, 503, tx.keep)
		return true
	}
	tx.be = be
	l.backend, l.be = be.Name, be
	if be.Cfg != fe.Cfg {
		if done, k := c.requestRules(tx, be.Cfg, bw, tx.keep); done {
			tx.keep = k
			return true
		}
		if st := be.Cfg.Stats; st != nil && st.Enabled && strings.HasPrefix(req.URI, st.URI) {
			drain(req.Body)
			l.status, l.term, l.server = 200, "LR", "<STATS>"
			tx.keep = c.serveStats(tx, bw, tx.keep)
			return true
		}
	}
	be.cumConns.Add(1)
	be.reqTotal.Add(1)
	c.forwardedFor(tx, be)
	tx.pers = be.requestCookie(req)

	// The connection mode is HAProxy's to decide: it drops the "close" and
	// "keep-alive" tokens and states its own, keeping the HTTP version.
	stripConnTokens(&req.Header)
	tx.serverClose = be.Cfg.HTTPServerClose || fe.Cfg.HTTPServerClose
	switch {
	case tx.serverClose && req.Proto != "HTTP/1.0":
		req.Header.Add("connection", "close")
	case !tx.serverClose && req.Proto == "HTTP/1.0":
		req.Header.Add("connection", "keep-alive")
	}
	if be.Cfg.Cookie != nil {
		l.ckReq, l.ckResp = tx.pers.flag(nil), 'N'
	}
	return false
}

// noteServer records the server the exchange ended with, if any.
func (c *clientConn) noteServer(tx *txn, srv *Server) {
	if srv == nil {
		return
	}
	tx.log.server = srv.Name
	if tx.be.Cfg.Cookie != nil {
		tx.log.ckReq = tx.pers.flag(srv)
	}
}

// answerFailure answers a request no server answered with code and
// returns whether the client connection stays.
func (c *clientConn) answerFailure(tx *txn, bw *bufio.Writer, code int) bool {
	c.fe.countStatus(code)
	tx.be.countStatus(code)
	l := tx.log
	l.status = code
	switch code {
	case 502:
		l.term = "SH"
	case 504:
		l.term = "sH"
	default:
		l.term = "SC"
	}
	tx.keep = writeError(bw, code, tx.keep && tx.req.length == 0 && !tx.req.chunked)
	return tx.keep
}

// respondHead applies the response rules and cookies to resp and writes
// its head to the client. It returns whether the server connection may
// carry another request. A chunked body stays chunked on the way out.
func (c *clientConn) respondHead(tx *txn, bw *bufio.Writer, srv *Server, resp *Response) (serverKeep bool) {
	fe, be, req, l := c.fe, tx.be, tx.req, tx.log
	tx.srv = srv
	l.srv, l.status = srv, resp.Status
	srv.countStatus(resp.Status)
	be.countStatus(resp.Status)
	fe.countStatus(resp.Status)

	ck := be.serverSetCookies(&resp.Header, srv)
	for _, r := range be.Cfg.HTTPResponse {
		if tx.evalCond(r.Cond) {
			applyHeaderRule(r, &resp.Header, tx)
		}
	}
	if fe.Cfg != be.Cfg {
		for _, r := range fe.Cfg.HTTPResponse {
			if tx.evalCond(r.Cond) {
				applyHeaderRule(r, &resp.Header, tx)
			}
		}
	}
	if be.insertCookie(&resp.Header, srv, tx.pers, resp.Status) {
		ck = 'I'
	}
	if be.Cfg.Cookie != nil {
		l.ckResp = ck
	}

	serverKeep = !resp.toClose && !tx.serverClose && !resp.Header.hasToken("Connection", "close") &&
		resp.Proto != "HTTP/1.0" && !resp.abandoned
	stripConnTokens(&resp.Header)
	if resp.toClose {
		// a body that ends with the server's connection ends the
		// client's too, as with HAProxy (it does not re-chunk it)
		tx.keep = false
	}
	// Like HAProxy, the status line keeps the server's version; the
	// connection mode is only spelled out where the version does not
	// imply it.
	switch {
	case !tx.keep && resp.Proto != "HTTP/1.0":
		resp.Header.Add("connection", "close")
	case tx.keep && (req.Proto == "HTTP/1.0" || resp.Proto == "HTTP/1.0"):
		resp.Header.Add("connection", "keep-alive")
	}

	line := append(bw.AvailableBuffer(), resp.Proto...)
	line = strconv.AppendInt(append(line, ' '), int64(resp.Status), 10)
	if resp.Reason != "" {
		line = append(append(line, ' '), resp.Reason...)
	}
	bw.Write(append(line, "\r\n"...))
	writeHeader(bw, resp.Header)
	bw.WriteString("\r\n")
	return serverKeep
}

// serverDone releases srv once its response is read, before the last
// bytes reach the client, so that a client's next request sees the
// connection count already lowered (leastconn); sent is the count of
// client bytes, buffered ones included, before the response head.
func (c *clientConn) serverDone(tx *txn, bw *bufio.Writer, srv *Server, sent int64) {
	srv.cur.Add(-1)
	tx.be.Balancer.Release(srv)
	// Response bytes, head included, as HAProxy's bytes_out counts them
	// (the last ones are flushed after the log line).
	n := uint64(c.out.n + int64(bw.Buffered()) - sent)
	srv.bytesOut.Add(n)
	tx.be.bytesOut.Add(n)
	c.fe.bytesOut.Add(n)
}
