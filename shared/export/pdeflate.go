package export

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// Parallel deflate: a file's bytes are cut into blocks of blockSize, each
// compressed on a goroutine of its own and written out in order. A block
// that is not the last ends with a sync flush (an empty stored block, byte
// aligned), the last with the final block, so the outputs joined are one
// deflate stream that any zip reader reads. Each block is primed with the
// previous block's last 32 KiB (deflate's window), so matches across the cut
// are found and the zip is hardly larger than one compressor's (pigz and
// pgzip do the same). The output depends only on the input: the same bytes
// always give the same zip.
const (
	blockSize  = 1 << 20
	windowSize = 32 << 10
)

// deflaters compress at flate.BestSpeed. On generated service JSON that
// made files about a fifth larger than the default level (ratio 4.2 against
// 5.0) at three times the speed or more; compressing is half the CPU time of
// a package, and packages expire within days, so speed wins. The deflate is
// github.com/klauspost/compress/flate, a drop-in for compress/flate: with its
// level 1 a 128 MiB Package1GB run took 3.3 CPU-seconds instead of 4.5 for a
// zip of the same size (44.4 MB against 44.8); any zip reader reads it.
var deflaters = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}

// block is one slice of a file and its compressed form.
type block struct {
	in   []byte
	dict []byte // the end of the previous block
	out  bytes.Buffer
	last bool
	done chan struct{}
	err  error
}

func (b *block) compress() {
	defer close(b.done)
	fw := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(fw)
	fw.ResetDict(&b.out, b.dict)
	if _, b.err = fw.Write(b.in); b.err != nil {
		return
	}
	if b.last {
		b.err = fw.Close()
	} else {
		b.err = fw.Flush()
	}
}

// blockPool bounds the blocks of one package: those being filled, compressed
// or written out, over all its streams. The limit is what bounds memory
// (each block holds up to a MiB in and about as much out) and what lets the
// reader run ahead of the compressors; when every block is taken, a writer
// waits for the oldest to be written. Any goroutine may use it.
type blockPool struct {
	free  chan *block // nil: a block not made yet
	limit int
}

// newBlockPool holds 4 blocks more than there are CPUs (up to 8), enough
// for each CPU to compress one while the JSON and CSV files of a service
// fill theirs and the sinks write out the oldest.
func newBlockPool() *blockPool {
	limit := 4 + min(max(runtime.GOMAXPROCS(0), 2), 8)
	p := &blockPool{free: make(chan *block, limit), limit: limit}
	for range limit {
		p.free <- nil
	}
	return p
}

// get returns an empty block, waiting for one when all are taken.
func (p *blockPool) get() *block {
	b := <-p.free
	if b == nil {
		b = &block{in: make([]byte, 0, blockSize)}
	}
	b.in, b.dict, b.last, b.err = b.in[:0], b.dict[:0], false, nil
	b.out.Reset()
	b.done = make(chan struct{})
	return b
}

// put gives a block back.
func (p *blockPool) put(b *block) { p.free <- b }

// digest is what a stream counted of a file: its uncompressed size and
// hashes, and the size of its compressed form.
type digest struct {
	n, out int64
	sha    []byte
	crc    uint32
}

// stream carries the bytes of one file to its compressed form: the caller
// writes into a block, each full block is compressed on a goroutine of its
// own, and a sink goroutine takes the blocks in order, hashes them
// (SHA-256 for the manifest, CRC-32 for the zip) while they are being
// compressed, and writes their compressed form to w. Only the caller's
// goroutine calls Write and close; w is used only by the sink.
type stream struct {
	pool  *blockPool
	cur   *block
	queue chan *block // to the sink, in order
	done  chan struct{}
	ended bool // queue closed

	// The sink's; read by the caller only after done.
	w      io.Writer
	sha    hash.Hash
	d      digest
	err    error
	stop   atomic.Bool // set by abort: write nothing more
	failed atomic.Bool // set by the sink on its first error
}

func newStream(pool *blockPool, w io.Writer) *stream {
	s := &stream{
		pool:  pool,
		cur:   pool.get(),
		queue: make(chan *block, pool.limit),
		done:  make(chan struct{}),
		w:     w,
		sha:   sha256.New(),
	}
	go s.sink()
	return s
}

func (s *stream) sink() {
	defer close(s.done)
	for b := range s.queue {
		if s.err == nil && s.stop.Load() {
			s.err = errAborted
		}
		if s.err == nil {
			s.sha.Write(b.in)
			s.d.crc = crc32.Update(s.d.crc, crc32.IEEETable, b.in)
			s.d.n += int64(len(b.in))
		}
		<-b.done
		if s.err == nil {
			s.err = b.err
		}
		if s.err == nil {
			var k int
			k, s.err = s.w.Write(b.out.Bytes())
			s.d.out += int64(k)
		}
		if s.err != nil {
			s.failed.Store(true)
		}
		s.pool.put(b)
	}
	if s.err == nil {
		s.d.sha = s.sha.Sum(nil)
	}
}

// Write copies p into blocks. Once the sink has failed it returns the
// sink's error.
func (s *stream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if s.failed.Load() {
			return n, s.wait()
		}
		k := copy(s.cur.in[len(s.cur.in):blockSize], p)
		s.cur.in = s.cur.in[:len(s.cur.in)+k]
		p, n = p[k:], n+k
		if len(s.cur.in) == blockSize {
			s.dispatch()
		}
	}
	return n, nil
}

// WriteString is Write for a string, without converting it. It repeats
// Write's loop on purpose: one generic function for both measured about 4 %
// more CPU per package (BenchmarkPackage1GB, 256 MiB, 4 runs each).
func (s *stream) WriteString(p string) (int, error) {
	n := 0
	for len(p) > 0 {
		if s.failed.Load() {
			return n, s.wait()
		}
		k := copy(s.cur.in[len(s.cur.in):blockSize], p)
		s.cur.in = s.cur.in[:len(s.cur.in)+k]
		p, n = p[k:], n+k
		if len(s.cur.in) == blockSize {
			s.dispatch()
		}
	}
	return n, nil
}

// WriteByte writes one byte.
func (s *stream) WriteByte(c byte) error {
	_, err := s.Write([]byte{c})
	return err
}

// dispatch starts compressing the full current block and queues it for the
// sink; the next block gets its end as dictionary.
func (s *stream) dispatch() {
	b := s.cur
	s.cur = s.pool.get()
	s.cur.dict = append(s.cur.dict, b.in[len(b.in)-windowSize:]...)
	go b.compress()
	s.queue <- b
}

// close compresses what is left as the final block, waits until the sink
// has written every block, and returns the file's digest or the first error.
func (s *stream) close() (digest, error) {
	if s.ended { // closed before, or failed
		if err := s.wait(); err != nil {
			return digest{}, err
		}
		return digest{}, errors.New("deflate: closed twice")
	}
	b := s.cur
	s.cur = nil
	b.last = true
	go b.compress()
	s.queue <- b
	err := s.wait()
	return s.d, err
}

// wait ends the queue and waits for the sink; then s.d and s.err are the
// sink's last word.
func (s *stream) wait() error {
	if !s.ended {
		s.ended = true
		if s.cur != nil {
			s.pool.put(s.cur)
			s.cur = nil
		}
		close(s.queue)
	}
	<-s.done
	return s.err
}

// errAborted stops the sink of a file left unfinished.
var errAborted = errors.New("file abandoned")

// abort drops what is still queued, without writing it, and waits for the
// sink to end: the file is lost anyway.
func (s *stream) abort() {
	s.stop.Store(true)
	s.wait()
}
