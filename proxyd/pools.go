package proxyd

import (
	"bufio"
	"io"
	"sync"
)

// Buffers are pooled: a proxy allocating fresh 16-32 KiB buffers for
// every request spends its time in the garbage collector.
var (
	copyBufPool  = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	upReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	cReaderPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}
	cWriterPool  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}
)

func getReader(p *sync.Pool, r io.Reader) *bufio.Reader {
	br := p.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(p *sync.Pool, br *bufio.Reader) {
	br.Reset(nil)
	p.Put(br)
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := cWriterPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	cWriterPool.Put(bw)
}
