package lbd

import (
	"bufio"
	"fmt"
)

// HAProxy's built-in error responses (same status lines, headers and
// bodies), sent when lbd itself answers.
var errorPages = map[int][2]string{
	400: {"Bad request", "Your browser sent an invalid request."},
	403: {"Forbidden", "Request forbidden by administrative rules."},
	408: {"Request Time-out", "Your browser didn't send a complete request in time."},
	500: {"Internal Server Error", "An internal server error occurred."},
	502: {"Bad Gateway", "The server returned an invalid or incomplete response."},
	503: {"Service Unavailable", "No server is available to handle this request."},
	504: {"Gateway Time-out", "The server didn't respond in time."},
}

// writeError writes HAProxy's error page for code and asks the client
// connection to close.
func writeError(w *bufio.Writer, code int) {
	p, ok := errorPages[code]
	if !ok {
		p = errorPages[500]
		code = 500
	}
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, p[0], p[1])
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n%s",
		code, p[0], len(body), body)
	w.Flush()
}
