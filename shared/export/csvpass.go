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
	pending batch    // the items held back
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

// add takes the next item, after c.cols has taken in its keys; vs is the
// scanner that found it, if the item is as it found it (else nil).
func (c *csvPass) add(item []byte, vs *valueScanner) error {
	switch {
	case c.dropped || c.again:
		return nil
	case !c.cols.flat:
		c.drop()
		return nil
	case c.w == nil:
		if len(c.pending.items)+len(item) <= c.limit {
			c.pending.push(item, vs)
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
	return c.w.add(item, vs)
}

// fix takes the columns seen so far as final and hands the items held back
// to a csvWriter.
func (c *csvPass) fix() error {
	c.width = len(c.cols.names)
	c.w = newCSVWriter(c.p, c.cols)
	err := c.pending.each(func(item []byte, vs *valueScanner) error { return c.w.add(item, vs) })
	c.pending = batch{}
	return err
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
	c.pending = batch{}
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

// batch is items back to back, with where their members are when the
// scanner found them.
type batch struct {
	items []byte
	spans [][2]int // name and value of each member, in turn
	ends  []batchEnd
	vs    valueScanner // each's keys and vals, for an item with spans
}

type batchEnd struct {
	item, spans int // where the item and its spans end
	scanned     bool
}

// push appends item, and its members' places if vs is not nil.
func (b *batch) push(item []byte, vs *valueScanner) {
	b.items = append(b.items, item...)
	if vs != nil {
		for k := range vs.keys {
			b.spans = append(b.spans, vs.keys[k], vs.vals[k])
		}
	}
	b.ends = append(b.ends, batchEnd{item: len(b.items), spans: len(b.spans), scanned: vs != nil})
}

// each calls f with each item, and a scanner holding its members' places
// or nil, in order, until f fails.
func (b *batch) each(f func(item []byte, vs *valueScanner) error) error {
	item, span := 0, 0
	for _, e := range b.ends {
		var vs *valueScanner
		if e.scanned {
			vs = &b.vs
			vs.keys, vs.vals = vs.keys[:0], vs.vals[:0]
			for k := span; k < e.spans; k += 2 {
				vs.keys = append(vs.keys, b.spans[k])
				vs.vals = append(vs.vals, b.spans[k+1])
			}
		}
		if err := f(b.items[item:e.item], vs); err != nil {
			return err
		}
		item, span = e.item, e.spans
	}
	return nil
}

func (b *batch) reset() {
	b.items, b.spans, b.ends = b.items[:0], b.spans[:0], b.ends[:0]
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
		if w.err == nil {
			if err := b.each(w.row); err != nil {
				w.fail(err)
			}
		}
		b.reset()
		if cap(b.items) > 2*batchBytes {
			b.items = nil // after a huge item
		}
		w.free <- b
	}
}

// row writes the record of item.
func (w *csvWriter) row(item []byte, vs *valueScanner) error {
	if w.stop.Load() {
		return errAborted
	}
	var rec []byte
	ok := false
	if vs != nil {
		rec, ok = w.t.recordSpans(item, vs.keys, vs.vals)
	} else {
		rec, ok = w.t.record(item)
	}
	if !ok {
		return errRowMismatch
	}
	_, err := w.s.Write(rec)
	return err
}

func (w *csvWriter) fail(err error) {
	w.err = err
	w.failed.Store(true)
}

// add queues item for its row; vs, if not nil, holds its members' places.
// Once the goroutine has failed it returns the goroutine's error.
func (w *csvWriter) add(item []byte, vs *valueScanner) error {
	if w.failed.Load() {
		return fmt.Errorf("spool csv: %w", w.wait())
	}
	if w.cur.items == nil {
		w.cur.items = make([]byte, 0, batchBytes)
	}
	w.cur.push(item, vs)
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
