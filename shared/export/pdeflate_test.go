package export

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStreamRoundTrip compresses files around the block size, reads them
// back with the standard library's inflate, and checks the digest.
func TestStreamRoundTrip(t *testing.T) {
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
			first, d := deflateInParts(t, in)
			got, err := io.ReadAll(flate.NewReader(bytes.NewReader(first)))
			if err != nil {
				t.Fatalf("inflate: %v", err)
			}
			if !bytes.Equal(got, in) {
				t.Errorf("inflated %d bytes differ from the %d written", len(got), len(in))
			}
			if again, _ := deflateInParts(t, in); !bytes.Equal(again, first) {
				t.Error("the same input gave different output")
			}
			sum := sha256.Sum256(in)
			want := digest{n: int64(len(in)), out: int64(len(first)), sha: sum[:], crc: crc32.ChecksumIEEE(in)}
			if diff := cmp.Diff(want, d, cmp.AllowUnexported(digest{})); diff != "" {
				t.Errorf("digest (-want +got):\n%s", diff)
			}
		})
	}
}

// deflateInParts writes in through a stream in uneven writes.
func deflateInParts(tb testing.TB, in []byte) ([]byte, digest) {
	tb.Helper()
	var out bytes.Buffer
	s := newStream(newBlockPool(), &out)
	for i, step := 0, 1; i < len(in); i, step = i+step, step*3+7 {
		if _, err := s.Write(in[i:min(i+step, len(in))]); err != nil {
			tb.Fatalf("write: %v", err)
		}
	}
	d, err := s.close()
	if err != nil {
		tb.Fatalf("close: %v", err)
	}
	if _, err := s.close(); err == nil {
		tb.Error("a second close succeeded")
	}
	return out.Bytes(), d
}

func TestStreamWriteFails(t *testing.T) {
	t.Parallel()
	errFull := errors.New("disk full")
	s := newStream(newBlockPool(), errWriter{errFull})
	buf := bytes.Repeat([]byte("abc"), blockSize)
	var err error
	for range 20 {
		if _, err = s.Write(buf); err != nil {
			break
		}
	}
	if err == nil {
		_, err = s.close()
	}
	if !errors.Is(err, errFull) {
		t.Errorf("error %v, want %v", err, errFull)
	}
	// A caller that ignored the failed write still gets the error.
	if _, err := s.close(); !errors.Is(err, errFull) {
		t.Errorf("close after the failure: %v, want %v", err, errFull)
	}
}

// TestStreamsShareThePool writes two files at once through one pool, as a
// flat service's JSON and CSV files are, and aborts a third midway: no
// stream waits forever for a block.
func TestStreamsShareThePool(t *testing.T) {
	t.Parallel()
	pool := newBlockPool()
	var a, b, c bytes.Buffer
	sa, sb, sc := newStream(pool, &a), newStream(pool, &b), newStream(pool, &c)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for range 3 * pool.limit * blockSize / len(chunk) {
		for _, s := range []*stream{sa, sb, sc} {
			if _, err := s.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	sc.abort()
	for _, s := range []*stream{sa, sb} {
		if _, err := s.close(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same bytes through two streams at once differ")
	}
	if _, err := sc.close(); err == nil {
		t.Error("close after abort succeeded")
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }
