package lbd

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
)

// chunkDecoder decodes a chunked body as it arrives, in whatever pieces,
// for the event loop. It follows the rules of httputil.NewChunkedReader,
// which the goroutine path reads bodies with: chunk lines end in CRLF
// with no other CR, extensions are ignored but their overhead is bounded,
// lines are under 4 KiB, the data ends with exactly CRLF; trailer lines
// are read and dropped as the goroutine path does (LF or CRLF).
type chunkDecoder struct {
	state  chunkState
	left   int64  // data bytes left in the current chunk
	line   []byte // a line read in part
	excess int64  // overhead beyond what httputil allows for the data
}

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkData
	chunkDataEnd // the CRLF after a chunk's data
	chunkTrailer
	chunkDone
)

const maxChunkLine = 4096

var errBadChunk = errors.New("malformed chunked encoding")

// next consumes the start of p and returns the body data found there (a
// slice of p, maybe empty) and how many bytes it used. Call it until p is
// used up or done reports the end of the body.
func (d *chunkDecoder) next(p []byte) (data []byte, used int, err error) {
	switch d.state {
	case chunkData:
		n := len(p)
		if int64(n) > d.left {
			n = int(d.left)
		}
		d.left -= int64(n)
		if d.left == 0 {
			d.state = chunkDataEnd
		}
		return p[:n], n, nil
	case chunkDone:
		return nil, 0, nil
	}
	line, used, err := d.readLine(p)
	if err != nil || line == nil {
		return nil, used, err
	}
	switch d.state {
	case chunkSize:
		cr := bytes.IndexByte(line, '\r')
		if cr < 0 || cr != len(line)-1 || len(line) > maxChunkLine {
			return nil, used, errBadChunk
		}
		d.excess += int64(len(line)) + 1 // the line, its CRLF, the CRLF after the data
		size := bytes.TrimRight(line[:cr], " \t")
		if i := bytes.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		if len(size) == 0 || len(size) > 16 {
			return nil, used, errBadChunk
		}
		n, perr := strconv.ParseUint(string(size), 16, 64)
		if perr != nil || n > 1<<62 {
			return nil, used, errBadChunk
		}
		d.excess = max(d.excess-16-2*int64(n), 0)
		if d.excess > 16<<10 {
			return nil, used, errBadChunk
		}
		if n == 0 {
			d.state = chunkTrailer
		} else {
			d.state, d.left = chunkData, int64(n)
		}
	case chunkDataEnd:
		if string(line) != "\r" {
			return nil, used, errBadChunk
		}
		d.state = chunkSize
	case chunkTrailer:
		if len(bytes.TrimSuffix(line, []byte("\r"))) == 0 {
			d.state = chunkDone
		}
	}
	return nil, used, nil
}

// readLine takes bytes of p up to a line feed and returns the whole line
// without its LF, or nil while the line is incomplete.
func (d *chunkDecoder) readLine(p []byte) (line []byte, used int, err error) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		if len(d.line)+len(p) > maxChunkLine {
			return nil, 0, errBadChunk
		}
		d.line = append(d.line, p...)
		return nil, len(p), nil
	}
	if len(d.line)+i > maxChunkLine {
		return nil, 0, errBadChunk
	}
	line = p[:i]
	if len(d.line) > 0 {
		line = append(d.line, line...)
		d.line = d.line[:0]
	}
	return line, i + 1, nil
}

// done reports the end of the body.
func (d *chunkDecoder) done() bool { return d.state == chunkDone }

// writeChunk writes p as one chunk, as httputil's chunked writer does.
func writeChunk(w *bufio.Writer, p []byte) {
	if len(p) == 0 {
		return
	}
	var n [16]byte
	w.Write(strconv.AppendInt(n[:0], int64(len(p)), 16))
	w.WriteString("\r\n")
	w.Write(p)
	w.WriteString("\r\n")
}

// writeLastChunk ends a chunked body with no trailer.
func writeLastChunk(w *bufio.Writer) { w.WriteString("0\r\n\r\n") }
