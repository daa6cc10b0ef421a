package export

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParallelDeflaterRoundTrip compresses entries around the block size and
// reads them back with the standard library's inflate.
func TestParallelDeflaterRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	text := make([]byte, 0, 4*blockSize)
	for len(text) < 4*blockSize {
		text = strconv.AppendInt(text, rng.Int64N(1000), 10)
		text = append(text, " words repeat, words do not "[rng.IntN(10):]...)
	}
	for _, size := range []int{0, 1, windowSize, blockSize - 1, blockSize, blockSize + 1, 2 * blockSize, 3*blockSize + 5} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			in := text[:size]
			first := deflateInParts(t, in)
			got, err := io.ReadAll(flate.NewReader(bytes.NewReader(first)))
			if err != nil {
				t.Fatalf("inflate: %v", err)
			}
			if !bytes.Equal(got, in) {
				t.Errorf("inflated %d bytes differ from the %d written", len(got), len(in))
			}
			if again := deflateInParts(t, in); !bytes.Equal(again, first) {
				t.Error("the same input gave different output")
			}
		})
	}
}

// deflateInParts writes in through a parallelDeflater in uneven writes.
func deflateInParts(tb testing.TB, in []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	d := newParallelDeflater(&out)
	for i, step := 0, 1; i < len(in); i, step = i+step, step*3+7 {
		if _, err := d.Write(in[i:min(i+step, len(in))]); err != nil {
			tb.Fatalf("write: %v", err)
		}
	}
	if err := d.Close(); err != nil {
		tb.Fatalf("close: %v", err)
	}
	if err := d.Close(); err == nil {
		tb.Error("a second Close succeeded")
	}
	return out.Bytes()
}

func TestParallelDeflaterWriteFails(t *testing.T) {
	t.Parallel()
	errFull := errors.New("disk full")
	d := newParallelDeflater(errWriter{errFull})
	buf := bytes.Repeat([]byte("abc"), blockSize)
	var err error
	for range 20 {
		if _, err = d.Write(buf); err != nil {
			break
		}
	}
	if err == nil {
		err = d.Close()
	}
	if !errors.Is(err, errFull) {
		t.Errorf("error %v, want %v", err, errFull)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }
