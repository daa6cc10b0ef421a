package export

import (
	"context"
	"errors"
	"fmt"
)

// pendingBytes bounds the items a service's CSV holds back while its columns
// may still grow.
const pendingBytes = 1 << 20

// csvPass writes a service's CSV file in the same read as its JSON file, so
// that a flat service is read and scanned once. The CSV starts with the
// columns, the union of every item's keys, which are only known at the end;
// so the first items (up to pendingBytes) are held back, and when that is
// full the columns seen so far are taken as final: the header and the held
// items' rows are written, then each item's row as it comes. The rows are
// compressed as they come into a spool (the JSON file is still being
// written to the zip), which is added to the zip after the JSON file. Items
// of one service almost always have the same keys; if a later item brings
// a new one after all, the rows written are dropped and the CSV is written
// from a second read, as before (the columns, complete by then, are the
// same either way, so is the file). An item that is not flat drops the CSV.
type csvPass struct {
	p       *packer
	cols    *columns
	limit   int    // of pending
	pending []byte // the items held back, back to back
	ends    []int  // where each item in pending ends
	t       *csvTable
	s       *stream // the CSV file's bytes, once the columns are fixed
	sp      *spool  // its compressed form
	again   bool    // the columns grew after they were fixed: read again
	dropped bool
}

func newCSVPass(p *packer, limit int) *csvPass {
	return &csvPass{p: p, cols: newColumns(), limit: limit}
}

// add takes the next item, after c.cols has taken in its keys.
func (c *csvPass) add(item []byte) error {
	switch {
	case c.dropped || c.again:
		return nil
	case !c.cols.flat:
		c.drop()
		return nil
	case c.t == nil:
		if len(c.pending)+len(item) <= c.limit {
			c.pending = append(c.pending, item...)
			c.ends = append(c.ends, len(c.pending))
			return nil
		}
		if err := c.fix(); err != nil {
			return err
		}
	case len(c.cols.names) != len(c.t.row.cells):
		c.drop()
		c.dropped, c.again = false, true
		return nil
	}
	return c.write(item)
}

// fix takes the columns seen so far as final and writes the header and the
// rows held back.
func (c *csvPass) fix() error {
	c.t = newCSVTable(c.cols)
	c.sp = newSpool(c.p.spoolDir, spoolMemory)
	c.s = c.p.newStream(c.sp)
	if _, err := c.s.Write(c.t.header()); err != nil {
		return fmt.Errorf("spool csv: %w", err)
	}
	start := 0
	for _, end := range c.ends {
		if err := c.write(c.pending[start:end]); err != nil {
			return err
		}
		start = end
	}
	c.pending, c.ends = nil, nil
	return nil
}

// errRowMismatch would mean that an item the columns took in does not fit
// them: a bug, never the data.
var errRowMismatch = errors.New("csv row does not fit its columns")

func (c *csvPass) write(item []byte) error {
	rec, ok := c.t.record(item)
	if !ok {
		return errRowMismatch
	}
	if _, err := c.s.Write(rec); err != nil {
		return fmt.Errorf("spool csv: %w", err)
	}
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
	if c.t == nil {
		if err := c.fix(); err != nil {
			return false, err
		}
	}
	d, err := c.s.close()
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	err = c.p.addSpooled(path, c.sp, d)
	c.sp.close()
	return err == nil, err
}

// drop forgets the rows and stops their stream; calling it again, or after
// finish, does nothing more.
func (c *csvPass) drop() {
	c.dropped = true
	c.pending, c.ends, c.t = nil, nil, nil
	if c.s != nil {
		c.s.abort()
		c.s = nil
	}
	if c.sp != nil {
		c.sp.close()
		c.sp = nil
	}
}
