package proxyd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// chunkedBody decodes a chunked body and consumes its trailer, leaving
// the reader at the next message. Like nginx it takes LF as well as CRLF
// after sizes, data and trailers, and ignores chunk extensions.
type chunkedBody struct {
	br    *bufio.Reader
	left  int64 // bytes left in the current chunk
	state int
}

const (
	chunkSize = iota
	chunkData
	chunkDataEnd
	chunkDone
)

var errBadChunk = errors.New("client sent invalid chunked body")

func (c *chunkedBody) Read(p []byte) (int, error) {
	for {
		switch c.state {
		case chunkDone:
			return 0, io.EOF
		case chunkSize:
			line, _, err := readLine(c.br)
			if err != nil {
				return 0, unexpected(err)
			}
			size, ok := parseChunkSize(line)
			if !ok {
				return 0, errBadChunk
			}
			if size == 0 {
				for {
					l, _, err := readLine(c.br)
					if err != nil {
						return 0, unexpected(err)
					}
					if len(l) == 0 {
						break
					}
				}
				c.state = chunkDone
				return 0, io.EOF
			}
			c.left, c.state = size, chunkData
		case chunkData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.left -= int64(n)
			if c.left == 0 {
				c.state = chunkDataEnd
			}
			if err != nil {
				return n, unexpected(err)
			}
			return n, nil
		case chunkDataEnd:
			line, _, err := readLine(c.br)
			if err != nil {
				return 0, unexpected(err)
			}
			if len(line) != 0 {
				return 0, errBadChunk
			}
			c.state = chunkSize
		}
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseChunkSize reads "HEX[ \t]*[;ext]".
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if n > (1<<62)/16 {
			return 0, false
		}
		n = n*16 + int64(d)
	}
rest:
	if i == 0 {
		return 0, false
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t':
		case ';':
			return n, true
		default:
			return 0, false
		}
	}
	return n, true
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
		line := bytes.TrimSuffix(b[:i], []byte("\r"))
		b = b[i+1:]
		n, ok := parseChunkSize(line)
		if !ok {
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
