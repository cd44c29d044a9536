package proxyd

import (
	"bufio"
	"errors"
	"io"
	"net/http/httputil"
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
