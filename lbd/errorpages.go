package lbd

import (
	"bufio"
	"fmt"
)

// errorPage is one of HAProxy 2.6's built-in error responses.
type errorPage struct {
	reason string
	text   string
	close  bool // the canned message carries "connection: close"
}

// errorPages are HAProxy's built-in answers (same status lines, header
// order and bodies), sent when lbd itself answers.
var errorPages = map[int]errorPage{
	400: {"Bad request", "Your browser sent an invalid request.", true},
	403: {"Forbidden", "Request forbidden by administrative rules.", false},
	408: {"Request Time-out", "Your browser didn't send a complete request in time.", true},
	500: {"Internal Server Error", "An internal server error occurred.", false},
	502: {"Bad Gateway", "The server returned an invalid or incomplete response.", false},
	503: {"Service Unavailable", "No server is available to handle this request.", false},
	504: {"Gateway Time-out", "The server didn't respond in time.", false},
}

// writeError writes HAProxy's error page for code. keep tells whether the
// client connection stays open; it returns whether it actually does.
func writeError(w *bufio.Writer, code int, keep bool) bool {
	p, ok := errorPages[code]
	if !ok {
		code, p = 500, errorPages[500]
	}
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, p.reason, p.text)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncache-control: no-cache\r\n", code, p.reason, len(body))
	if p.close {
		w.WriteString("connection: close\r\n")
		keep = false
	}
	w.WriteString("content-type: text/html\r\n")
	if !keep && !p.close {
		w.WriteString("connection: close\r\n")
	}
	w.WriteString("\r\n")
	w.WriteString(body)
	w.Flush()
	return keep
}

// writeRawError writes the error page the way HAProxy's HTTP/1 parser
// sends it when the request could not even be parsed: the canned message
// as stored, with its mixed-case header names, then close.
func writeRawError(w *bufio.Writer, code int) {
	p := errorPages[code]
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, p.reason, p.text)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-length: %d\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n%s",
		code, p.reason, len(body), body)
	w.Flush()
}
