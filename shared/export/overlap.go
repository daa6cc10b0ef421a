package export

import (
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"sync"
)

// Chunks in flight between the goroutine that reads items and the one that
// compresses: this much memory buys the overlap.
const (
	chunkSize = 64 << 10
	chunks    = 4
)

// overlap passes the bytes of one zip entry to a goroutine that hashes and
// counts them and hands them to the entry's deflater (parallelDeflater), so
// that this runs beside reading the next items instead of after it. Writes
// copy into one of a few fixed chunks, so memory stays bounded however fast
// the writer is.
type overlap struct {
	full chan []byte
	free chan []byte
	done chan struct{}
	d    *digester // the goroutine's; read only after done

	mu  sync.Mutex
	err error // the first error of the goroutine
}

// digester passes bytes to a zip entry, counting and hashing them on the way.
type digester struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (d *digester) Write(b []byte) (int, error) {
	n, err := d.w.Write(b)
	d.h.Write(b[:n])
	d.n += int64(n)
	return n, err
}

func newOverlap(entry io.Writer) *overlap {
	o := &overlap{
		full: make(chan []byte, chunks),
		free: make(chan []byte, chunks),
		done: make(chan struct{}),
		d:    &digester{w: entry, h: sha256.New()},
	}
	for range chunks {
		o.free <- make([]byte, chunkSize)
	}
	go o.run()
	return o
}

func (o *overlap) run() {
	defer close(o.done)
	for b := range o.full {
		if o.failed() == nil {
			if _, err := o.d.Write(b); err != nil {
				o.mu.Lock()
				o.err = err
				o.mu.Unlock()
			}
		}
		o.free <- b[:cap(b)]
	}
}

func (o *overlap) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Write queues a copy of b. It fails once the goroutine has failed.
func (o *overlap) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if err := o.failed(); err != nil {
			return n, err
		}
		c := <-o.free
		k := copy(c, b)
		o.full <- c[:k]
		b, n = b[k:], n+k
	}
	return n, o.failed()
}

// close waits until everything written is compressed and returns the
// digest of the entry, or the first error.
func (o *overlap) close() (*digester, error) {
	close(o.full)
	<-o.done
	return o.d, o.err
}

// errAborted stops the goroutine of an entry left unfinished.
var errAborted = errors.New("entry abandoned")

// abort drops what is still queued and waits for the goroutine to end.
func (o *overlap) abort() {
	o.mu.Lock()
	if o.err == nil {
		o.err = errAborted
	}
	o.mu.Unlock()
	o.close()
}
