package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"halab/internal/labapp"
)

// Config describes a traffic source.
type Config struct {
	Name string
	From string // client label (node name)
	// URL makes HTTP GET probes; Connect (host:port) makes TCP connect probes.
	URL     string
	Connect string
	// Host overrides the Host header.
	Host string
	// Cookies keeps the cookies the client received and sends them back
	// (a lab client: Secure, Domain and Path attributes are ignored, so
	// the article's "Secure" cookie still travels over plain HTTP).
	Cookies bool
	// KeepAlive reuses one connection; otherwise each probe connects.
	KeepAlive bool
	Rate      float64       // probes per second (default 10)
	Duration  time.Duration // how long to send (or Count probes)
	Count     int
	Timeout   time.Duration // per probe (default 1s)
}

// maxBody bounds how much of an answer is read.
const maxBody = 64 << 10

// Run sends probes as cfg says until the duration or count is reached or ctx
// ends, recording each in rec, and finishes rec. Probes are sequential, like
// one user: a probe that hangs delays the next one, whose start is the next
// tick after it.
func Run(ctx context.Context, cfg Config, dial DialFunc, rec *Recording) {
	defer func() { rec.Finish(time.Now()) }()
	rate := cfg.Rate
	if rate <= 0 {
		rate = 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	interval := time.Duration(float64(time.Second) / rate)
	p := newProber(cfg, dial)
	defer p.close()
	begin := time.Now()
	next := begin
	for i := 0; ; i++ {
		if cfg.Count > 0 && i >= cfg.Count {
			return
		}
		if cfg.Count == 0 && !time.Now().Before(begin.Add(cfg.Duration)) {
			return
		}
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			return
		}
		rec.Add(p.probe(ctx))
		next = next.Add(interval)
		if now := time.Now(); next.Before(now) {
			next = now // late: do not burst to catch up
		}
	}
}

type prober struct {
	cfg    Config
	dial   DialFunc
	client *http.Client
	jar    map[string]string
	order  []string
}

func newProber(cfg Config, dial DialFunc) *prober {
	p := &prober{cfg: cfg, dial: dial, jar: map[string]string{}}
	if cfg.URL != "" {
		tr := &http.Transport{
			DialContext:         dial,
			DisableKeepAlives:   !cfg.KeepAlive,
			MaxIdleConnsPerHost: 1,
			ForceAttemptHTTP2:   false,
			DisableCompression:  true,
		}
		p.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return p
}

func (p *prober) close() {
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

func (p *prober) probe(ctx context.Context) Request {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	if p.cfg.Connect != "" {
		return p.connect(ctx)
	}
	return p.http(ctx)
}

func (p *prober) connect(ctx context.Context) Request {
	q := Request{Start: time.Now()}
	c, err := p.dial(ctx, "tcp", p.cfg.Connect)
	q.Latency = time.Since(q.Start)
	if err != nil {
		q.Err = "connect: " + describe(err)
		return q
	}
	q.Local = c.LocalAddr().String()
	_ = c.Close()
	q.OK = true
	return q
}

func (p *prober) http(ctx context.Context) Request {
	q := Request{Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.URL, nil)
	if err != nil {
		q.Err = err.Error()
		return q
	}
	if p.cfg.Host != "" {
		req.Host = p.cfg.Host
	}
	req.Header.Set("User-Agent", "halab-probe")
	if p.cfg.Cookies && len(p.order) > 0 {
		var parts []string
		for _, name := range p.order {
			parts = append(parts, name+"="+p.jar[name])
		}
		q.Cookie = strings.Join(parts, "; ")
		req.Header.Set("Cookie", q.Cookie)
	}
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		q.Local = ci.Conn.LocalAddr().String()
	}}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	res, err := p.client.Do(req)
	if err != nil {
		q.Latency = time.Since(q.Start)
		q.Err = describe(err)
		return q
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	res.Body.Close()
	q.Latency = time.Since(q.Start)
	q.Status = res.StatusCode
	q.SetCookie = res.Header.Values("Set-Cookie")
	q.Header = map[string]string{}
	keys := make([]string, 0, len(res.Header))
	for k := range res.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Header[k] = res.Header.Get(k)
	}
	q.App = res.Header.Get("X-App")
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		var s labapp.Seen
		if json.Unmarshal(body, &s) == nil {
			q.Seen = &s
			if s.App != "" {
				q.App = s.App
			}
		}
	}
	if p.cfg.Cookies {
		for _, c := range res.Cookies() {
			if _, ok := p.jar[c.Name]; !ok {
				p.order = append(p.order, c.Name)
			}
			p.jar[c.Name] = c.Value
		}
	}
	switch {
	case err != nil:
		q.Err = "body: " + describe(err)
	case res.StatusCode >= 500:
		q.Err = fmt.Sprintf("status %d", res.StatusCode)
	default:
		q.OK = true
	}
	return q
}

// describe shortens network errors to what matters in a report.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	}
	return err.Error()
}
