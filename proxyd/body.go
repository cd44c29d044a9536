package proxyd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"strconv"
	"strings"
)

// chunkedBody decodes a chunked body and consumes its trailer, leaving
// the reader at the next message.
type chunkedBody struct {
	br   *bufio.Reader
	r    io.Reader
	done bool
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.r == nil {
		c.r = httputil.NewChunkedReader(c.br)
	}
	n, err := c.r.Read(p)
	if errors.Is(err, io.EOF) {
		// trailer: header lines up to an empty line
		for {
			l, _, lerr := readLine(c.br)
			if lerr != nil {
				return n, io.ErrUnexpectedEOF
			}
			if len(l) == 0 {
				break
			}
		}
		c.done = true
	}
	return n, err
}

// errBodyTooLarge is a request body over client_max_body_size.
var errBodyTooLarge = errors.New("client intended to send too large body")

// readAllLimit reads r to the end, failing beyond limit bytes (0: none).
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		return io.ReadAll(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// chunkedComplete reports whether br already holds a whole chunked body
// (nginx then has it buffered and sends a Content-Length).
func chunkedComplete(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		line := strings.TrimRight(string(b[:i]), "\r")
		b = b[i+1:]
		if j := strings.IndexByte(line, ';'); j >= 0 {
			line = line[:j]
		}
		n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil || n < 0 {
			return false
		}
		if n == 0 {
			// trailer lines up to an empty line
			for {
				i := bytes.IndexByte(b, '\n')
				if i < 0 {
					return false
				}
				if strings.TrimRight(string(b[:i]), "\r") == "" {
					return true
				}
				b = b[i+1:]
			}
		}
		if int64(len(b)) < n+1 {
			return false
		}
		b = b[n:]
		if len(b) > 0 && b[0] == '\r' {
			b = b[1:]
		}
		if len(b) == 0 || b[0] != '\n' {
			return false
		}
		b = b[1:]
	}
}
