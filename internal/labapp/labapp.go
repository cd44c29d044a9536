// Package labapp is the lab's application server: what the article's PHP
// app does (set a JSESSIONID cookie) plus a JSON answer that tells every
// check where a request went and what it carried.
package labapp

import (
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"strings"
)

// Seen is the JSON body the app answers with.
type Seen struct {
	App           string `json:"app"`
	Host          string `json:"host"`
	Method        string `json:"method"`
	URI           string `json:"uri"`
	XRealIP       string `json:"x_real_ip"`
	XForwardedFor string `json:"x_forwarded_for"`
	Peer          string `json:"peer"`
	PeerIP        string `json:"peer_ip"`
	Cookie        string `json:"cookie,omitempty"`
	// Headers are the request headers as received.
	Headers map[string]string `json:"headers"`
}

// CookieName is the session cookie the app sets, as the article's app does.
const CookieName = "JSESSIONID"

// Handler answers every request with Seen as JSON and sets JSESSIONID, as
// PHP's setcookie() in the article's index.php does on every response.
// A fixed cookie value is used when value is not empty.
func Handler(app, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		peerIP, _, _ := net.SplitHostPort(r.RemoteAddr)
		s := Seen{
			App: app, Host: r.Host, Method: r.Method, URI: r.RequestURI,
			XRealIP: r.Header.Get("X-Real-IP"), XForwardedFor: r.Header.Get("X-Forwarded-For"),
			Peer: r.RemoteAddr, PeerIP: peerIP, Headers: map[string]string{},
		}
		if c, err := r.Cookie(CookieName); err == nil {
			s.Cookie = c.Value
		}
		for k, v := range r.Header {
			s.Headers[k] = strings.Join(v, ", ")
		}
		v := value
		if v == "" {
			v = sessionID()
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-App", app)
		b, _ := json.Marshal(s)
		_, _ = w.Write(append(b, '\n'))
	})
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// sessionID is a random 22-character value like the article's cookies.
func sessionID() string {
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b)
}
