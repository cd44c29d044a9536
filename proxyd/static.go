package proxyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"halab/proxyd/config"
)

// maxURIChanges bounds internal redirects, as NGX_HTTP_MAX_URI_CHANGES.
const maxURIChanges = 10

// static serves files as nginx's try_files, index and static modules do
// for a location without proxy_pass or return: GET, HEAD (and POST, which
// gets 405 once the file is found), trailing-slash URIs through the index
// files, directories without the slash redirected with 301.
func (rt *runtime) static(ctx context.Context, x *exchange, s *config.Settings) {
	r := x.req
	uri := r.uri
	if tf := s.TryFiles; tf != nil {
		found := false
		for _, a := range tf[:len(tf)-1] {
			// an argument written with a trailing slash looks for a
			// directory; the slash itself is dropped from the new $uri
			testDir := strings.HasSuffix(a, "/")
			name := x.expand(rt.tpls.get(a))
			if testDir && name != "" {
				name = name[:len(name)-1]
			}
			fi, err := os.Stat(filepath.Join(s.Root, name))
			if err != nil || fi.IsDir() != testDir {
				continue
			}
			uri, found = name, true
			if uri == "" {
				uri = "/"
			}
			break
		}
		if !found {
			last := x.expand(rt.tpls.get(tf[len(tf)-1]))
			if strings.HasPrefix(last, "=") {
				code, _ := strconv.Atoi(last[1:])
				x.sendSpecial(code, "", s.ServerTokens)
				return
			}
			rt.internalRedirect(ctx, x, last)
			return
		}
		r.uri = uri
	}
	if r.method != "GET" && r.method != "HEAD" && r.method != "POST" {
		x.sendSpecial(405, "", s.ServerTokens)
		return
	}
	path := filepath.Join(s.Root, uri)
	if strings.HasSuffix(uri, "/") {
		for _, idx := range s.Index {
			name := x.expand(rt.tpls.get(idx))
			if fi, err := os.Stat(filepath.Join(path, name)); err == nil && !fi.IsDir() {
				rt.internalRedirect(ctx, x, uri+name)
				return
			}
		}
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			rt.errLog.log("error", x, fmt.Sprintf(`directory index of "%s/" is forbidden`, path), "")
			x.sendSpecial(403, "", s.ServerTokens)
			return
		}
		rt.errLog.log("error", x, fmt.Sprintf(`"%s/%s" is not found (2: No such file or directory)`, path, firstOr(s.Index, "index.html")), "")
		x.sendSpecial(404, "", s.ServerTokens)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		status, text := 500, "13: Permission denied"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			status, text = 404, "2: No such file or directory"
		case errors.Is(err, fs.ErrPermission):
			status = 403
		}
		rt.errLog.log("error", x, fmt.Sprintf(`open() "%s" failed (%s)`, path, text), "")
		x.sendSpecial(status, "", s.ServerTokens)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		x.sendSpecial(500, "", s.ServerTokens)
		return
	}
	if fi.IsDir() {
		loc := uri + "/"
		if r.args != "" {
			loc += "?" + r.args
		}
		x.sendSpecial(301, x.absoluteURL(loc), s.ServerTokens)
		return
	}
	if r.method == "POST" {
		x.sendSpecial(405, "", s.ServerTokens)
		return
	}
	x.discardBeforeResponse()
	lastMod := fi.ModTime().UTC().Format(http.TimeFormat)
	etag := fmt.Sprintf(`"%x-%x"`, fi.ModTime().Unix(), fi.Size())
	h := &respHead{status: 200, contentType: x.contentType(s), contentLength: fi.Size(),
		lastModified: lastMod, serverTokens: s.ServerTokens,
		headers: []header{{"ETag", etag}, {"Accept-Ranges", "bytes"}}}
	if notModified(r, lastMod, etag) {
		h.status, h.contentType, h.contentLength = 304, "", -1
		h.headers = h.headers[:1]
		x.writeHead(h)
		return
	}
	bw := x.writeHead(h)
	if !bw.none {
		_, _ = io.Copy(bw, f)
	}
}

// notModified applies If-None-Match and If-Modified-Since (exact match,
// nginx's default if_modified_since exact).
func notModified(r *request, lastMod, etag string) bool {
	if inm, ok := r.header("If-None-Match"); ok {
		for _, t := range strings.Split(inm, ",") {
			if t = strings.TrimSpace(t); t == etag || t == "*" || t == "W/"+etag {
				return true
			}
		}
		return false
	}
	ims, ok := r.header("If-Modified-Since")
	return ok && ims == lastMod
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}
