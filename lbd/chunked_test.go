package lbd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunkOutcome is how a chunked body decoded: its data, whether its end
// (the last chunk and the trailer section) was reached, the error if it
// was malformed, and how many bytes the body took when it ended.
type chunkOutcome struct {
	data []byte
	done bool
	err  error
	used int
}

// decodeChunks feeds input to a chunkDecoder in pieces of the given sizes
// (used in turn, over and over; none for the input whole), as data comes
// from a socket, and checks the decoder's contract on the way.
func decodeChunks(t testing.TB, input []byte, sizes []int) chunkOutcome {
	t.Helper()
	var (
		d   chunkDecoder
		out chunkOutcome
	)
	if d.done() {
		t.Fatal("done before any input")
	}
	rest := input
	for k := 0; len(rest) > 0 && !d.done(); k++ {
		size := len(rest)
		if len(sizes) > 0 {
			size = min(sizes[k%len(sizes)], len(rest))
		}
		// a buffer of its own, overwritten once used: the decoder must
		// keep nothing of it
		p := bytes.Clone(rest[:size])
		rest = rest[size:]
		for q := p; len(q) > 0 && !d.done(); {
			data, used, err := d.next(q)
			if used < 0 || used > len(q) || len(data) > used {
				t.Fatalf("next(%d bytes) = %d bytes of data, %d used", len(q), len(data), used)
			}
			if len(data) > 0 && &data[0] != &q[0] {
				t.Fatalf("next returned data that does not start its input")
			}
			out.data = append(out.data, data...)
			out.used += used
			if err != nil {
				out.err = err
				return out
			}
			if used == 0 {
				t.Fatalf("next made no progress on %q in state %d", q, d.state)
			}
			q = q[used:]
		}
		for i := range p {
			p[i] = 0xAA
		}
	}
	out.done = d.done()
	if out.done {
		// the end is for good
		data, used, err := d.next([]byte("0\r\n\r\n"))
		if len(data) != 0 || used != 0 || err != nil || !d.done() {
			t.Fatalf("next after done = %q, %d, %v", data, used, err)
		}
	}
	return out
}

// referenceChunks decodes input as lbd's goroutine path does (ReadRequest
// and ReadResponse with chunkedBody, on a 16 KiB bufio.Reader):
// httputil.NewChunkedReader up to the last chunk, then the trailer
// section line by line up to its empty line, with LF or CRLF line ends as
// net/http takes them. Trailer lines are held to the decoder's documented
// limit of 4 KiB (before the LF), where the goroutine path's reader would
// take up to 16 KiB.
func referenceChunks(input []byte) chunkOutcome {
	r := bytes.NewReader(input)
	br := bufio.NewReaderSize(r, 16<<10)
	data, err := io.ReadAll(httputil.NewChunkedReader(br))
	if err != nil {
		return chunkOutcome{data: data, err: err}
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return chunkOutcome{data: data, err: err}
		}
		if len(line)-1 > maxChunkLine {
			return chunkOutcome{data: data, err: errTrailerLineTooLong}
		}
		if string(line) == "\n" || string(line) == "\r\n" {
			break
		}
	}
	return chunkOutcome{data: data, done: true, used: len(input) - br.Buffered() - r.Len()}
}

var errTrailerLineTooLong = errors.New("trailer line over 4 KiB")

// compareChunks decodes input with chunkDecoder in pieces and with the
// reference. Where the reference accepts, the decoder must end the body
// at the same byte with the same data; where it rejects, the decoder must
// fail or not reach the end.
func compareChunks(t testing.TB, input []byte, sizes []int) {
	t.Helper()
	ref := referenceChunks(input)
	got := decodeChunks(t, input, sizes)
	if ref.done {
		if got.err != nil || !got.done {
			t.Fatalf("input %q, pieces %v: httputil accepts (%q), the decoder does not: done=%v err=%v",
				input, sizes, ref.data, got.done, got.err)
		}
		if !bytes.Equal(ref.data, got.data) {
			t.Fatalf("input %q, pieces %v: decoded %q, httputil %q", input, sizes, got.data, ref.data)
		}
		if ref.used != got.used {
			t.Fatalf("input %q, pieces %v: the body took %d bytes, %d by httputil", input, sizes, got.used, ref.used)
		}
		return
	}
	if got.err == nil && got.done {
		t.Fatalf("input %q, pieces %v: httputil rejects it (%v), the decoder reaches the end with %q",
			input, sizes, ref.err, got.data)
	}
	if got.err == nil && errors.Is(ref.err, io.ErrUnexpectedEOF) && !bytes.Equal(ref.data, got.data) {
		// a body cut short: both have what came so far
		t.Fatalf("input %q, pieces %v: body cut short: decoded %q, httputil %q", input, sizes, got.data, ref.data)
	}
}

type chunkCase struct {
	name string
	in   string
	// want is the body's data when valid
	valid bool
	want  string
}

func chunkCases() []chunkCase {
	x := func(n int) string { return strings.Repeat("x", n) }
	big := strings.Repeat("0123456789abcdef", 0x1000)
	var overhead strings.Builder
	for range 10 {
		overhead.WriteString("1;" + x(3000) + "\r\nz\r\n")
	}
	overhead.WriteString("0\r\n\r\n")
	return []chunkCase{
		// valid
		{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", valid: true, want: "hello"},
		{name: "several chunks", in: "5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n", valid: true, want: "hello world!"},
		{name: "empty body", in: "0\r\n\r\n", valid: true, want: ""},
		{name: "extensions", in: "5;name=v\r\nhello\r\n6;a;b=\"q;s\"\r\n world\r\n0;last\r\n\r\n", valid: true, want: "hello world"},
		{name: "extension with spaces inside", in: "5; name = v \r\nhello\r\n0\r\n\r\n", valid: true, want: "hello"},
		{name: "uppercase hex", in: "A\r\n0123456789\r\n1F\r\n" + x(31) + "\r\n0\r\n\r\n", valid: true, want: "0123456789" + x(31)},
		{name: "mixed case hex and leading zeros", in: "000aB\r\n" + x(0xab) + "\r\n00\r\n\r\n", valid: true, want: x(0xab)},
		{name: "sixteen hex digits", in: "0000000000000003\r\nabc\r\n0\r\n\r\n", valid: true, want: "abc"},
		{name: "whitespace after size", in: "5 \t\r\nhello\r\n0\r\n\r\n", valid: true, want: "hello"},
		{name: "trailers", in: "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", valid: true, want: "hello"},
		{name: "trailers with LF-only line ends", in: "5\r\nhello\r\n0\r\nX-Sum: 1\nX-More: 2\n\n", valid: true, want: "hello"},
		{name: "LF-only end of trailer section", in: "5\r\nhello\r\n0\r\n\n", valid: true, want: "hello"},
		{name: "data with line ends in it", in: "6\r\n\r\n\n\r0\n\r\n0\r\n\r\n", valid: true, want: "\r\n\n\r0\n"},
		{name: "a big chunk", in: "10000\r\n" + big + "\r\n0\r\n\r\n", valid: true, want: big},
		{name: "the next message follows", in: "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", valid: true, want: "abc"},
		{name: "next message after trailers", in: "3\r\nabc\r\n0\r\nA: b\r\n\r\n3\r\nxyz\r\n", valid: true, want: "abc"},
		{name: "size line of 4095 bytes", in: "1;" + x(4093) + "\r\nz\r\n0\r\n\r\n", valid: true, want: "z"},
		{name: "trailer line of 4095 bytes", in: "1\r\nz\r\n0\r\nA: " + x(4092) + "\r\n\r\n", valid: true, want: "z"},
		{name: "trailer line of 4096 bytes and LF", in: "1\r\nz\r\n0\r\nA: " + x(4093) + "\n\r\n", valid: true, want: "z"},

		// invalid
		{name: "empty input", in: ""},
		{name: "bad hex digit", in: "5g\r\nhello\r\n0\r\n\r\n"},
		{name: "hex prefix", in: "0x5\r\nhello\r\n0\r\n\r\n"},
		{name: "sign", in: "+5\r\nhello\r\n0\r\n\r\n"},
		{name: "negative size", in: "-1\r\nh\r\n0\r\n\r\n"},
		{name: "underscore in size", in: "0_5\r\nhello\r\n0\r\n\r\n"},
		{name: "seventeen hex digits", in: "00000000000000005\r\nhello\r\n0\r\n\r\n"},
		{name: "size over 63 bits", in: "8000000000000000\r\nhello\r\n0\r\n\r\n"},
		{name: "leading space", in: " 5\r\nhello\r\n0\r\n\r\n"},
		{name: "empty size line", in: "\r\nhello\r\n0\r\n\r\n"},
		{name: "empty size line between chunks", in: "1\r\na\r\n\r\n1\r\nb\r\n0\r\n\r\n"},
		{name: "extension only", in: ";ext\r\nhello\r\n0\r\n\r\n"},
		{name: "size line over 4096 bytes", in: "1;" + x(5000) + "\r\nz\r\n0\r\n\r\n"},
		{name: "size line of 4096 bytes", in: "1;" + x(4094) + "\r\nz\r\n0\r\n\r\n"},
		{name: "size line of 16 KiB", in: "1;" + x(16<<10) + "\r\nz\r\n0\r\n\r\n"},
		{name: "size line over 4096 bytes with no end", in: "1;" + x(5000)},
		{name: "trailer line of 4096 bytes", in: "1\r\nz\r\n0\r\nA: " + x(4093) + "\r\n\r\n"},
		{name: "trailer line over 4096 bytes", in: "1\r\nz\r\n0\r\nA: " + x(5000) + "\r\n\r\n"},
		{name: "missing CRLF after data", in: "5\r\nhelloX\r\n0\r\n\r\n"},
		{name: "data longer than its size", in: "3\r\nhello\r\n0\r\n\r\n"},
		{name: "data two shorter than its size", in: "7\r\nhello\r\n0\r\n\r\n"},
		{name: "CR alone after data", in: "5\r\nhello\r0\r\n\r\n"},
		{name: "CR CR LF after data", in: "5\r\nhello\r\r\n0\r\n\r\n"},
		{name: "cut in a size line", in: "5\r\nhello\r\n1"},
		{name: "cut in data", in: "5\r\nhel"},
		{name: "cut after data", in: "5\r\nhello"},
		{name: "cut in the CRLF after data", in: "5\r\nhello\r"},
		{name: "no last chunk", in: "5\r\nhello\r\n"},
		{name: "cut before the trailer section", in: "5\r\nhello\r\n0\r\n"},
		{name: "cut in a trailer", in: "5\r\nhello\r\n0\r\nA: b\r\n"},
		{name: "CR in size", in: "5\r6\r\nhello\r\n0\r\n\r\n"},

		// rules of httputil's since CVE-2025-22871, which the decoder
		// follows: CRLF only, no CR inside, bounded extension overhead
		{name: "LF-only line ends", in: "5\nhello\n0\n\n"},
		{name: "LF-only size line", in: "5\nhello\r\n0\r\n\r\n"},
		{name: "LF-only after data", in: "5\r\nhello\n0\r\n\r\n"},
		{name: "LF-only last chunk line", in: "5\r\nhello\r\n0\n\r\n"},
		// the size counts the CR: a LF alone must not end the data
		{name: "size one over the data", in: "6\r\nhello\r\n0\r\n\r\n"},
		{name: "CR inside an extension", in: "5;a\rb\r\nhello\r\n0\r\n\r\n"},
		{name: "whitespace before an extension", in: "5 ;name=v\r\nhello\r\n0\r\n\r\n"},
		{name: "LF-only size line of 4096 bytes", in: "1;" + x(4094) + "\nz\r\n0\r\n\r\n"},
		{name: "too much extension overhead", in: overhead.String()},
	}
}

// chunkSplits are the ways the table's inputs are cut.
var chunkSplits = []struct {
	name  string
	sizes []int
}{
	{"whole", nil},
	{"byte by byte", []int{1}},
	{"uneven", []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}},
	{"two at a time", []int{2}},
}

func TestChunkDecoder(t *testing.T) {
	for _, tc := range chunkCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			ref := referenceChunks(in)
			// the table agrees with httputil
			require.Equal(t, tc.valid, ref.done, "httputil's verdict (err %v)", ref.err)
			if tc.valid {
				require.Equal(t, tc.want, string(ref.data))
			}
			for _, sp := range chunkSplits {
				compareChunks(t, in, sp.sizes)
				got := decodeChunks(t, in, sp.sizes)
				if tc.valid {
					assert.Equal(t, tc.want, string(got.data), "pieces %s", sp.name)
					assert.Equal(t, len(tc.in)-len(trailingMessage(tc.in)), got.used, "pieces %s: bytes the body took", sp.name)
				}
			}
		})
	}
}

// trailingMessage returns what follows the body in the table's valid
// inputs (the next message).
func trailingMessage(in string) string {
	for _, next := range []string{"HTTP/1.1 200 OK\r\n\r\n", "3\r\nxyz\r\n"} {
		if strings.HasSuffix(in, "\r\n\r\n"+next) {
			return next
		}
	}
	return ""
}

// fuzzSizes turns fuzzed bytes into piece sizes: none for the whole
// input, else one piece of 1 to 256 bytes a byte.
func fuzzSizes(cuts []byte) []int {
	if len(cuts) == 0 {
		return nil
	}
	sizes := make([]int, len(cuts))
	for i, c := range cuts {
		sizes[i] = int(c) + 1
	}
	return sizes
}

func FuzzChunkDecoder(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range chunkCases() {
		if len(tc.in) > 512 {
			// the line limits are the table's; long inputs make the
			// fuzzer spend its time minimizing them
			continue
		}
		f.Add([]byte(tc.in), []byte(nil))
		f.Add([]byte(tc.in), []byte{0})
		cuts := make([]byte, 1+rng.IntN(8))
		for i := range cuts {
			cuts[i] = byte(rng.IntN(16))
		}
		f.Add([]byte(tc.in), cuts)
	}
	f.Fuzz(func(t *testing.T, input, cuts []byte) {
		compareChunks(t, input, fuzzSizes(cuts))
	})
}

func TestWriteChunk(t *testing.T) {
	big := make([]byte, 100_000)
	rand.NewChaCha8([32]byte{7}).Read(big)
	tests := []struct {
		name   string
		pieces []string
	}{
		{"no data", nil},
		{"an empty piece", []string{""}},
		{"one byte", []string{"a"}},
		{"pieces with an empty one", []string{"hello", "", " ", "world"}},
		{"line ends in data", []string{"\r\n", "0\r\n\r\n", "\n"}},
		{"two-digit and three-digit sizes", []string{strings.Repeat("a", 0xff), strings.Repeat("b", 0x100)}},
		{"a big piece", []string{string(big)}},
		{"many small pieces", strings.Split(strings.Repeat("abc,", 500), ",")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			bw := bufio.NewWriterSize(&got, 16) // flushes on the way
			for _, p := range tt.pieces {
				writeChunk(bw, []byte(p))
			}
			writeLastChunk(bw)
			require.NoError(t, bw.Flush())
			data := strings.Join(tt.pieces, "")

			// as httputil's chunked writer frames it, with the empty
			// trailer section
			var want bytes.Buffer
			cw := httputil.NewChunkedWriter(&want)
			for _, p := range tt.pieces {
				_, err := cw.Write([]byte(p))
				require.NoError(t, err)
			}
			require.NoError(t, cw.Close())
			want.WriteString("\r\n")
			assert.Equal(t, want.String(), got.String())

			// httputil reads it back, up to the final CRLF
			br := bufio.NewReader(bytes.NewReader(got.Bytes()))
			back, err := io.ReadAll(httputil.NewChunkedReader(br))
			require.NoError(t, err)
			assert.Equal(t, data, string(back))
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			assert.Equal(t, "\r\n", string(rest), "after the last chunk")

			// and so does the decoder
			for _, sp := range chunkSplits {
				out := decodeChunks(t, got.Bytes(), sp.sizes)
				require.NoError(t, out.err, "pieces %s", sp.name)
				assert.True(t, out.done, "pieces %s: done", sp.name)
				assert.Equal(t, data, string(out.data), "pieces %s", sp.name)
				assert.Equal(t, got.Len(), out.used, "pieces %s", sp.name)
			}
		})
	}
}

func TestWriteChunkSizeLine(t *testing.T) {
	for _, n := range []int{1, 9, 10, 15, 16, 255, 4096, 65535, 65536} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b bytes.Buffer
			bw := bufio.NewWriter(&b)
			writeChunk(bw, bytes.Repeat([]byte{'.'}, n))
			require.NoError(t, bw.Flush())
			head := fmt.Sprintf("%x\r\n", n)
			assert.True(t, strings.HasPrefix(b.String(), head), "starts %q, want %q", b.String()[:min(b.Len(), 12)], head)
			assert.Equal(t, len(head)+n+2, b.Len())
			assert.True(t, strings.HasSuffix(b.String(), ".\r\n"))
		})
	}
}
