package lbd

import (
	"bufio"
	"fmt"
	"strings"
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
	401: {"Unauthorized", "You need a valid user and password to access this content.", false},
	403: {"Forbidden", "Request forbidden by administrative rules.", false},
	404: {"Not Found", "The resource could not be found.", false},
	407: {"Unauthorized", "You need a valid user and password to access this content.", false},
	408: {"Request Time-out", "Your browser didn't send a complete request in time.", true},
	405: {"Method Not Allowed", "A request was made of a resource using a request method not supported by that resource", false},
	410: {"Gone", "The resource is no longer available and will not be available again.", false},
	413: {"Payload Too Large", "The request entity exceeds the maximum allowed.", false},
	425: {"Too Early", "Your browser sent early data.", false},
	429: {"Too Many Requests", "You have sent too many requests in a given amount of time.", false},
	500: {"Internal Server Error", "An internal server error occurred.", false},
	// (haproxy 2.6's text does start with a dot.)
	501: {"Not Implemented", ".The server does not support the functionality required to fulfill the request.", false},
	502: {"Bad Gateway", "The server returned an invalid or incomplete response.", false},
	503: {"Service Unavailable", "No server is available to handle this request.", false},
	504: {"Gateway Time-out", "The server didn't respond in time.", false},
}

// writeError writes (without flushing) HAProxy's error page for code as
// its HTX layer sends it. keep tells whether the client connection stays open; it returns
// whether it actually does (400 and 408 always close).
func writeError(w *bufio.Writer, code int, keep bool) bool {
	p, ok := errorPages[code]
	if !ok {
		code, p = 500, errorPages[500]
	}
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, p.reason, p.text)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n", code, p.reason, len(body))
	if p.close {
		keep = false
	}
	if !keep {
		w.WriteString("connection: close\r\n")
	}
	w.WriteString("\r\n")
	w.WriteString(body)
	return keep
}

// writeRawError writes the error page the way HAProxy's HTTP/1 parser
// sends it when the request could not be parsed: the canned message as
// stored (mixed-case names, "Connection: close" before the content type),
// or lower-cased when the request was parsed but refused (lower).
func writeRawError(w *bufio.Writer, code int, lower bool) {
	p := errorPages[code]
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, p.reason, p.text)
	head := fmt.Sprintf("Content-length: %d\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n", len(body))
	if lower {
		head = strings.ToLower(head)
	}
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n%s\r\n%s", code, p.reason, head, body)
	w.Flush()
}
