package proxyd

import (
	"strconv"
	"strings"
)

// nginxVersion is the version proxyd reports in Server headers and error
// pages. proxyd answers as the nginx it replaces so that clients, checks
// and logged sizes see the same bytes (see DIFFERENCES.md).
const nginxVersion = "1.22.1"

// statusLines are nginx's reason phrases for the status lines it makes.
var statusLines = map[int]string{
	100: "Continue", 101: "Switching Protocols",
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
	301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Not Allowed", 406: "Not Acceptable", 408: "Request Time-out",
	409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Request Entity Too Large", 414: "Request-URI Too Large", 415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable", 421: "Misdirected Request", 429: "Too Many Requests",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
	505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}

// statusLine returns "CODE Reason" as nginx writes it; unknown codes get
// "CODE " with an empty reason.
func statusLine(code int) string {
	if s, ok := fullStatusLines[code]; ok {
		return s
	}
	return pad3(code) + " "
}

// fullStatusLines are statusLine's answers for the known codes.
var fullStatusLines = func() map[int]string {
	m := make(map[int]string, len(statusLines))
	for code, reason := range statusLines {
		m[code] = strconv.Itoa(code) + " " + reason
	}
	return m
}()

// pageTitles differ from status lines for a few codes.
var pageTitles = map[int]string{302: "302 Found"}

// errorPage returns nginx's built-in page for code, or nil when nginx has
// none (2xx and unknown codes).
func errorPage(code int, serverTokens bool) []byte {
	if code < 300 || code == 304 {
		return nil
	}
	title, ok := pageTitles[code]
	if !ok && code != 494 {
		r, known := statusLines[code]
		if !known {
			return nil
		}
		title = strconv.Itoa(code) + " " + r
	}
	extra := ""
	if code == 494 {
		title = "400 Request Header Or Cookie Too Large"
		extra = "<center>Request Header Or Cookie Too Large</center>\r\n"
	}
	tail := "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	if serverTokens {
		tail = "<hr><center>nginx/" + nginxVersion + "</center>\r\n</body>\r\n</html>\r\n"
	}
	var b strings.Builder
	b.WriteString("<html>\r\n<head><title>")
	b.WriteString(title)
	b.WriteString("</title></head>\r\n<body>\r\n<center><h1>")
	if code == 494 {
		b.WriteString("400 Bad Request")
	} else {
		b.WriteString(title)
	}
	b.WriteString("</h1></center>\r\n")
	b.WriteString(extra)
	b.WriteString(tail)
	return []byte(b.String())
}

// serverHeader is the Server header value.
func serverHeader(tokens bool) string {
	if tokens {
		return "nginx/" + nginxVersion
	}
	return "nginx"
}
