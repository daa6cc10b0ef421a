package export

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Parallel deflate: an entry's bytes are cut into blocks of blockSize, each
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
	maxBlocks  = 8 // in flight at most, whatever the number of CPUs
)

var (
	deflaters  = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	freeBlocks = sync.Pool{New: func() any { return &block{in: make([]byte, 0, blockSize)} }}
)

// block is one slice of an entry and its compressed form.
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

// parallelDeflater is the io.WriteCloser a zip entry compresses through.
type parallelDeflater struct {
	w       io.Writer
	cur     *block
	pending []*block // dispatched, in order
	limit   int
	err     error
}

func newParallelDeflater(w io.Writer) *parallelDeflater {
	return &parallelDeflater{w: w, cur: newBlock(nil), limit: min(max(runtime.GOMAXPROCS(0), 2), maxBlocks)}
}

func newBlock(dict []byte) *block {
	b := freeBlocks.Get().(*block)
	b.in, b.dict, b.last, b.err = b.in[:0], append(b.dict[:0], dict...), false, nil
	b.out.Reset()
	b.done = make(chan struct{})
	return b
}

func (d *parallelDeflater) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if d.err != nil {
			return n, d.err
		}
		k := min(len(p), blockSize-len(d.cur.in))
		d.cur.in = append(d.cur.in, p[:k]...)
		p, n = p[k:], n+k
		if len(d.cur.in) == blockSize {
			next := newBlock(d.cur.in[blockSize-windowSize:])
			d.dispatch()
			d.cur = next
		}
	}
	return n, d.err
}

// dispatch starts compressing the current block, first writing out the
// oldest one if as many as the limit are in flight.
func (d *parallelDeflater) dispatch() {
	if len(d.pending) == d.limit {
		d.writeOldest()
	}
	b := d.cur
	d.cur = nil
	d.pending = append(d.pending, b)
	go b.compress()
}

func (d *parallelDeflater) writeOldest() {
	b := d.pending[0]
	d.pending = d.pending[1:]
	<-b.done
	if d.err == nil {
		d.err = b.err
	}
	if d.err == nil {
		_, d.err = d.w.Write(b.out.Bytes())
	}
	freeBlocks.Put(b)
}

// Close compresses what is left as the final block and writes every block.
func (d *parallelDeflater) Close() error {
	if d.cur == nil {
		return errors.New("deflate: closed twice")
	}
	d.cur.last = true
	if len(d.pending) == 0 {
		// One block in all (a small file): compress it here.
		b := d.cur
		d.cur = nil
		b.compress()
		d.pending = append(d.pending, b)
	} else {
		d.dispatch()
	}
	for len(d.pending) > 0 {
		d.writeOldest()
	}
	return d.err
}
