package export

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
)

const (
	// pendingBytes bounds the items a service's CSV holds back while its
	// columns may still grow.
	pendingBytes = 1 << 20
	// batchBytes is how many bytes of items the reader hands the CSV
	// goroutine at a time, and batches how many batches there are.
	batchBytes = 256 << 10
	batches    = 3
)

// csvPass writes a service's CSV file in the same read as its JSON file, so
// that a flat service is read and scanned once. The CSV starts with the
// columns, the union of every item's keys, which are only known at the end;
// so the first items (up to pendingBytes) are held back, and when that is
// full the columns seen so far are taken as final: from then on a goroutine
// of its own (csvWriter) writes the header, the held items' rows and each
// item's row as it comes, compressed into a spool (the JSON file is still
// being written to the zip), which is added to the zip after the JSON file.
// Items of one service almost always have the same keys; if a later item
// brings a new one after all, the rows written are dropped and the CSV is
// written from a second read, as before (the columns, complete by then, are
// the same either way, so is the file). An item that is not flat drops the
// CSV. The reader's goroutine calls every method.
type csvPass struct {
	p       *packer
	cols    *columns // the reader's, growing
	limit   int      // of pending
	pending []byte   // the items held back, back to back
	ends    []int    // where each item in pending ends
	w       *csvWriter
	width   int  // the columns when they were fixed
	again   bool // the columns grew after they were fixed: read again
	dropped bool
}

// newCSVPass holds back up to limit bytes of items; with limit below 0 it
// writes nothing and leaves the CSV file to a second read.
func newCSVPass(p *packer, limit int) *csvPass {
	return &csvPass{p: p, cols: newColumns(), limit: limit, again: limit < 0}
}

// add takes the next item, after c.cols has taken in its keys.
func (c *csvPass) add(item []byte) error {
	switch {
	case c.dropped || c.again:
		return nil
	case !c.cols.flat:
		c.drop()
		return nil
	case c.w == nil:
		if len(c.pending)+len(item) <= c.limit {
			c.pending = append(c.pending, item...)
			c.ends = append(c.ends, len(c.pending))
			return nil
		}
		if err := c.fix(); err != nil {
			return err
		}
	case len(c.cols.names) != c.width:
		c.drop()
		c.dropped, c.again = false, true
		return nil
	}
	return c.w.add(item)
}

// fix takes the columns seen so far as final and hands the items held back
// to a csvWriter.
func (c *csvPass) fix() error {
	c.width = len(c.cols.names)
	c.w = newCSVWriter(c.p, c.cols)
	start := 0
	for _, end := range c.ends {
		if err := c.w.add(c.pending[start:end]); err != nil {
			return err
		}
		start = end
	}
	c.pending, c.ends = nil, nil
	return nil
}

// finish adds the CSV file path after the service's JSON file, if the
// service is a table; items is the count of its items.
func (c *csvPass) finish(ctx context.Context, part Part, items int, path string) (bool, error) {
	if !c.cols.tabular() {
		c.drop()
		return false, nil
	}
	if c.again {
		return true, c.p.writeCSV(ctx, part, c.cols, items, path)
	}
	if c.w == nil {
		if err := c.fix(); err != nil {
			return false, err
		}
	}
	d, err := c.w.close()
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	err = c.p.addSpooled(path, c.w.sp, d)
	c.drop()
	return err == nil, err
}

// drop forgets the rows and stops their goroutine; calling it again, or
// after finish, does nothing more.
func (c *csvPass) drop() {
	c.dropped = true
	c.pending, c.ends = nil, nil
	if c.w != nil {
		c.w.abort()
		c.w = nil
	}
}

// csvWriter renders the rows of a service's CSV file on a goroutine of its
// own, beside the reader, under a copy of the columns as they were fixed
// (the reader's keep growing), into a stream into a spool.
type csvWriter struct {
	t     *csvTable
	s     *stream
	sp    *spool
	cur   *batch // the reader's
	full  chan *batch
	free  chan *batch
	done  chan struct{}
	ended bool // full closed

	stop   atomic.Bool // set by abort: render nothing more
	failed atomic.Bool // set by the goroutine on its first error
	err    error       // the goroutine's; read after done
}

// batch is items back to back, and where each ends.
type batch struct {
	items []byte
	ends  []int
}

func newCSVWriter(p *packer, cols *columns) *csvWriter {
	fixed := &columns{index: maps.Clone(cols.index), names: slices.Clone(cols.names), flat: true}
	sp := newSpool(p.spoolDir, p.tune.spoolMemory)
	w := &csvWriter{
		t:    newCSVTable(fixed),
		sp:   sp,
		s:    p.newStream(sp),
		cur:  &batch{},
		full: make(chan *batch, batches),
		free: make(chan *batch, batches),
		done: make(chan struct{}),
	}
	for range batches - 1 {
		w.free <- &batch{}
	}
	go w.run()
	return w
}

// errRowMismatch would mean that an item the columns took in does not fit
// them: a bug, never the data.
var errRowMismatch = errors.New("csv row does not fit its columns")

func (w *csvWriter) run() {
	defer close(w.done)
	if _, err := w.s.Write(w.t.header()); err != nil {
		w.fail(err)
	}
	for b := range w.full {
		start := 0
		for _, end := range b.ends {
			if w.err != nil || w.stop.Load() {
				break
			}
			rec, ok := w.t.record(b.items[start:end])
			if !ok {
				w.fail(errRowMismatch)
				break
			}
			if _, err := w.s.Write(rec); err != nil {
				w.fail(err)
			}
			start = end
		}
		b.items, b.ends = b.items[:0], b.ends[:0]
		if cap(b.items) > 2*batchBytes {
			b.items = nil // after a huge item
		}
		w.free <- b
	}
}

func (w *csvWriter) fail(err error) {
	w.err = err
	w.failed.Store(true)
}

// add queues item for its row. Once the goroutine has failed it returns
// the goroutine's error.
func (w *csvWriter) add(item []byte) error {
	if w.failed.Load() {
		return fmt.Errorf("spool csv: %w", w.wait())
	}
	if w.cur.items == nil {
		w.cur.items = make([]byte, 0, batchBytes)
	}
	w.cur.items = append(w.cur.items, item...)
	w.cur.ends = append(w.cur.ends, len(w.cur.items))
	if len(w.cur.items) >= batchBytes {
		w.full <- w.cur
		w.cur = <-w.free
	}
	return nil
}

// wait hands over the last batch, waits for the goroutine to end and
// returns its error.
func (w *csvWriter) wait() error {
	if !w.ended {
		w.ended = true
		if len(w.cur.ends) > 0 {
			w.full <- w.cur
		}
		w.cur = nil
		close(w.full)
	}
	<-w.done
	return w.err
}

// close waits for every row and returns the file's digest.
func (w *csvWriter) close() (digest, error) {
	if err := w.wait(); err != nil {
		return digest{}, err
	}
	return w.s.close()
}

// abort stops the goroutine and the stream, and frees the spool.
func (w *csvWriter) abort() {
	w.stop.Store(true)
	w.wait()
	w.s.abort()
	w.sp.close()
}
