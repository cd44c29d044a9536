package ui

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"halab/faults"
	"halab/lab"
	"halab/lbd/haproxycfg"
)

// backendReader reads each balancer's view of its servers from the
// statistics page its haproxy.cfg enables (`stats enable` and `stats uri`),
// in CSV, from inside the balancer's node. lbd and Debian's haproxy both
// serve it. Balancers without a stats page show no backends. Fetches run in
// the background, at most one per daemon per second; the poller reads the
// latest result.
type backendReader struct {
	node func(string) (*lab.Node, error)

	mu    sync.Mutex
	cache map[int]*backendEntry // daemon PID -> latest view
}

type backendEntry struct {
	url, auth string // "" when the configuration has no stats page
	loaded    bool
	fetching  bool
	at        time.Time
	backends  []Backend
}

func newBackendReader(node func(string) (*lab.Node, error)) *backendReader {
	return &backendReader{node: node, cache: map[int]*backendEntry{}}
}

// get returns the latest view of a balancer daemon and starts a refresh
// when it is older than a second.
func (r *backendReader) get(nodeName string, pi faults.Proc) []Backend {
	if r == nil || r.node == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[pi.PID]
	if !ok {
		e = &backendEntry{}
		r.cache[pi.PID] = e
	}
	if !e.loaded {
		e.loaded = true
		e.url, e.auth = statsURL(pi)
	}
	if e.url != "" && !e.fetching && time.Since(e.at) > time.Second {
		e.fetching = true
		go r.refresh(nodeName, pi.PID, e.url, e.auth)
	}
	return e.backends
}

func (r *backendReader) refresh(nodeName string, pid int, url, auth string) {
	bs, err := r.fetch(nodeName, url, auth)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[pid]
	if e == nil {
		return
	}
	e.fetching, e.at = false, time.Now()
	if err != nil {
		bs = []Backend{{Name: "stats", Addr: url, Health: "unreadable: " + err.Error()}}
	}
	e.backends = bs
}

// forget drops daemons that are gone.
func (r *backendReader) forget(alive map[int]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid := range r.cache {
		if !alive[pid] {
			delete(r.cache, pid)
		}
	}
}

// statsURL finds the stats page of a balancer from its -f files.
func statsURL(pi faults.Proc) (url, auth string) {
	var files []string
	for i, a := range pi.Argv {
		if a == "-f" && i+1 < len(pi.Argv) {
			files = append(files, inRoot(pi.PID, pi.Argv[i+1]))
		}
	}
	if len(files) == 0 {
		return "", ""
	}
	cfg, err := haproxycfg.LoadFiles(files)
	if err != nil {
		return "", ""
	}
	for _, px := range cfg.Proxies {
		if px.Stats == nil || !px.Stats.Enabled || len(px.Binds) == 0 {
			continue
		}
		b := px.Binds[0]
		host := b.Host
		if host == "" || host == "*" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		uri := px.Stats.URI
		if uri == "" {
			uri = "/haproxy?stats"
		}
		if len(px.Stats.Auth) > 0 {
			auth = px.Stats.Auth[0]
		}
		return "http://" + net.JoinHostPort(host, strconv.Itoa(b.Port)) + uri + ";csv", auth
	}
	return "", ""
}

// fetch reads the CSV statistics from inside the node.
func (r *backendReader) fetch(nodeName, url, auth string) ([]Backend, error) {
	n, err := r.node(nodeName)
	if err != nil {
		return nil, err
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 500 * time.Millisecond}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, shortErrf(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return parseStatsCSV(io.LimitReader(resp.Body, 1<<20))
}

func shortErrf(err error) error { return fmt.Errorf("%s", shortErr(err)) }

// parseStatsCSV turns HAProxy's CSV statistics into the servers' health:
// one Backend per server line, named backend/server.
func parseStatsCSV(rd io.Reader) ([]Backend, error) {
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("stats csv: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "# ")] = i
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	if _, ok := col["svname"]; !ok {
		return nil, fmt.Errorf("stats csv: no svname column")
	}
	var out []Backend
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("stats csv: %w", err)
		}
		sv := field(rec, "svname")
		if sv == "FRONTEND" || sv == "BACKEND" || sv == "" {
			continue
		}
		out = append(out, Backend{Name: field(rec, "pxname") + "/" + sv, Addr: field(rec, "addr"), Health: field(rec, "status")})
	}
	return out, nil
}
