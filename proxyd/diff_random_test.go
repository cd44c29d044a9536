package proxyd

import (
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// randomRequest builds a request from pieces that exercise parsing, Host
// and location matching, URI handling and header passing. Paths avoid the
// locations whose outcome depends on timing (dead and slow upstreams).
func randomRequest(rng *rand.Rand) (raw, method string) {
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	method = pick("GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
	prefix := pick("/", "/rr/", "/static/", "/exact", "/std/", "/direct/", "/ret", "/acl/", "/outer/", "/lc/",
		"/hash/", "/v11/", "/ka/", "/pics/", "/x/", "/STATIC/", "//rr//", "/rr/./",
		"/a.txt", "/dir", "/plain/", "/fallback/", "/nodir/", "/index.html")
	var segs []string
	for i := rng.Intn(4); i > 0; i-- {
		segs = append(segs, pick("a", "b.php", "c.JPG", "d.jpg", "%41", "%2F", "e%20f", "..", ".", "", "inner", "g+h", "%C3%A9", "chunked", "status/404", "status/503", "redirect"))
	}
	path := prefix + strings.Join(segs, "/")
	if strings.Contains(path, "..") && rng.Intn(2) == 0 {
		path = prefix
	}
	if rng.Intn(3) == 0 {
		path += "?" + pick("a=1", "a=1&b=%20", "", "x=y/z?w", "q=%zz")
	}
	version := pick("HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0")
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", method, path, version)
	host := pick("www.example.com", "WWW.EXAMPLE.COM", "www.example.com:8080", "a.example.org", "x.regex.test",
		"www.example.co", "unknown.test", "www.example.com.", "exact.example.net", "static.test", "static.test", "")
	if host != "" || version == "HTTP/1.1" && rng.Intn(8) != 0 {
		if host == "" {
			host = "www.example.com"
		}
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	for i := rng.Intn(5); i > 0; i-- {
		fmt.Fprintf(&b, "%s: %s\r\n",
			pick("X-Custom", "x-lower", "X-Forwarded-For", "Referer", "User-Agent", "Cookie", "Accept", "X-Real-IP", "Connection", "Keep-Alive", "X-Dup", "Te", "Via", "Accept-Encoding"),
			pick("1", "a b c", "", "10.1.2.3", "keep-alive", "close", "trailers", "x=1; y=2", "\"quoted\"", "http://ref/"))
	}
	b.WriteString("X-Test-Id: {{ID}}\r\n")
	switch {
	case method == "POST" || method == "PUT" || method == "PATCH":
		body := strings.Repeat("z", rng.Intn(300))
		if version == "HTTP/1.1" && rng.Intn(3) == 0 {
			fmt.Fprintf(&b, "Transfer-Encoding: chunked\r\n\r\n")
			if len(body) > 0 {
				fmt.Fprintf(&b, "%x\r\n%s\r\n", len(body), body)
			}
			b.WriteString("0\r\n\r\n")
		} else {
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
		}
	default:
		b.WriteString("\r\n")
	}
	raw = b.String()
	if rng.Intn(5) == 0 {
		raw = mutate(rng, raw)
	}
	return raw, method
}

// mutate damages a request the way broken clients do.
func mutate(rng *rand.Rand, raw string) string {
	switch rng.Intn(12) {
	case 0:
		return strings.Replace(raw, " HTTP/1.", "  HTTP/1.", 1)
	case 1:
		return strings.Replace(raw, "HTTP/1.1", "HTTP/1.9", 1)
	case 2:
		return strings.Replace(raw, "\r\n", "\r\nX Bad Header\r\n", 1)
	case 3:
		return strings.Replace(raw, "\r\n", "\r\nContent-Length: 1x\r\n", 1)
	case 4:
		return strings.Replace(raw, "\r\n", "\r\nHost: second\r\n", 1)
	case 5:
		return strings.ReplaceAll(raw, "\r\n", "\n")
	case 6:
		return strings.Replace(raw, " /", " http://www.example.com:81/", 1)
	case 7:
		return strings.Replace(raw, "\r\n", "\r\nhost: lower.example.com\r\n", 1)
	case 8:
		return strings.Replace(raw, "\r\n", "\r\nX-Sp:   padded value   \r\n", 1)
	case 9:
		return strings.Replace(raw, "\r\n", "\r\nExpect: 100-continue\r\n", 1)
	case 10:
		return strings.Replace(raw, " /", " /a%2", 1)
	}
	return strings.Replace(raw, "\r\n", "\r\nX-Long: "+strings.Repeat("y", 5000)+"\r\n", 1)
}

// TestDifferentialRandom sends 150 generated requests (fixed seed) to
// nginx and to proxyd and compares them as TestDifferentialNginx does.
func TestDifferentialRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test starts nginx")
	}
	app1 := startBackend(t, "app1", "127.0.0.1:0")
	app2 := startBackend(t, "app2", "127.0.0.1:0")
	vars := map[string]string{
		"APP1": app1.addr(), "APP2": app2.addr(),
		"DEAD1": freePort(t, "127.0.0.1"), "DEAD2": freePort(t, "127.0.0.1"), "HOLE": freePort(t, "127.0.0.1"),
		"STATIC": staticRoot(t),
	}
	seed := int64(4)
	if v, err := strconv.ParseInt(os.Getenv("PROXYD_DIFF_SEED"), 10, 64); err == nil {
		seed = v // explore other corpora: PROXYD_DIFF_SEED=n go test -run DifferentialRandom
	}
	rng := rand.New(rand.NewSource(seed))
	type gen struct{ raw, method string }
	var corpus []gen
	for i := 0; i < 150; i++ {
		raw, m := randomRequest(rng)
		corpus = append(corpus, gen{strings.ReplaceAll(raw, "{{ID}}", fmt.Sprintf("r%03d", i)), m})
	}
	// requests go in groups of one to four on one keep-alive connection
	var groups [][]int
	for i := 0; i < len(corpus); {
		n := 1 + rng.Intn(4)
		var g []int
		for ; n > 0 && i < len(corpus); n-- {
			g = append(g, i)
			i++
		}
		groups = append(groups, g)
	}
	run := func(r *proxyRun) (resps, seen []string) {
		app1.reset()
		app2.reset()
		resps = make([]string, len(corpus))
		for _, grp := range groups {
			var raws, methods []string
			for _, i := range grp {
				raws = append(raws, corpus[i].raw)
				methods = append(methods, corpus[i].method)
			}
			res := exchangeRaw(r.addr, "127.0.0.1", raws, methods)
			for k, i := range grp {
				resps[i] = "(not answered)"
				if k < len(res) {
					resps[i] = strings.ReplaceAll(res[k].String(), r.addr[strings.LastIndex(r.addr, ":"):], ":PORT")
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
		for i := range corpus {
			id := fmt.Sprintf("r%03d", i)
			v := ""
			for _, b := range []*backend{app1, app2} {
				if h := b.head(id); h != "" {
					v += b.name + "\n" + h
				}
			}
			seen = append(seen, v)
		}
		return resps, seen
	}
	ng := startNginx(t, diffConf, vars)
	wantResp, wantSeen := run(ng)
	px := startProxyd(t, diffConf, vars)
	gotResp, gotSeen := run(px)
	failures := 0
	for i, g := range corpus {
		if wantResp[i] != gotResp[i] || wantSeen[i] != gotSeen[i] {
			failures++
			if failures <= 10 {
				assert.Equal(t, wantResp[i], gotResp[i], "request %d:\n%q", i, g.raw)
				assert.Equal(t, wantSeen[i], gotSeen[i], "request %d:\n%s", i, g.raw)
			}
		}
	}
	assert.Zero(t, failures, "requests that differ")
	wl := ng.logLines(t, "access.log")
	deadline := time.Now().Add(3 * time.Second)
	gl := px.logLines(t, "access.log")
	for len(gl) < len(wl) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		gl = px.logLines(t, "access.log")
	}
	// the order of lines from different connections depends on scheduling
	sort.Strings(wl)
	sort.Strings(gl)
	if d := diffLines(wl, gl); d != "" {
		t.Errorf("access.log differs:\n%s", d)
		for i, g := range corpus {
			if strings.Contains(d, "\\\""+strings.SplitN(g.raw, "\r\n", 2)[0]) {
				t.Logf("request %d: %q", i, g.raw)
			}
		}
	}
}
