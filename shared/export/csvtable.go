package export

import (
	"bytes"
	"context"
	"fmt"
)

// csvTable renders the CSV records of a flat service under its columns.
type csvTable struct {
	cols  *columns
	row   *csvRow
	scan  flatScanner
	f     field
	order keyOrder // the column of each member of the previous item
}

// newCSVTable renders under the columns cols has now.
func newCSVTable(cols *columns) *csvTable {
	return &csvTable{cols: cols, row: newCSVRow(len(cols.names))}
}

// header returns the record of the column names, valid until the next call.
func (t *csvTable) header() []byte {
	for i, name := range t.cols.names[:len(t.row.cells)] {
		t.row.cells[i] = []byte(defuse(name))
	}
	return t.row.record()
}

// record returns the record of item, valid until the next call, or false
// when item is not a flat object whose keys are all columns.
func (t *csvTable) record(item []byte) ([]byte, bool) {
	if !t.scan.start(item) {
		return nil, false
	}
	t.row.reset(len(item))
	for k := 0; t.scan.next(&t.f); k++ {
		if !t.put(k) {
			return nil, false
		}
	}
	if t.scan.nested {
		return nil, false
	}
	return t.row.record(), true
}

// recordSpans is record for an item whose members valueScanner found
// (topKeys): keys and vals are where their names and values lie in item,
// so the item is not walked again.
func (t *csvTable) recordSpans(item []byte, keys, vals [][2]int) ([]byte, bool) {
	if len(item) == 0 || item[0] != '{' || len(keys) != len(vals) {
		return nil, false
	}
	t.row.reset(len(item))
	f := &t.f
	for k, span := range keys {
		f.key = item[span[0]:span[1]]
		f.keyEscaped = bytes.IndexByte(f.key, '\\') >= 0
		v := item[vals[k][0]:vals[k][1]]
		if len(v) == 0 {
			return nil, false
		}
		switch v[0] {
		case '"':
			f.kind, f.val, f.valEscaped = '"', v, bytes.IndexByte(v, '\\') >= 0
		case 'n':
			f.kind, f.val = 'n', nil
		case '{', '[':
			return nil, false
		default: // a number, true or false
			f.kind, f.val = '0', v
		}
		if !t.put(k) {
			return nil, false
		}
	}
	return t.row.record(), true
}

// put sets the cell of t.f, the k-th member of an item; false when its key
// is not a column.
func (t *csvTable) put(k int) bool {
	if t.order.same(k, &t.f, t.cols.names) {
		t.row.set(t.order[k], &t.f)
		return true
	}
	i, found := t.cols.index[string(inner(t.f.key))]
	if t.f.keyEscaped {
		i, found = t.cols.index[unquote(t.f.key, true)]
	}
	if !found || i >= len(t.row.cells) {
		return false
	}
	t.order.set(k, i)
	t.row.set(i, &t.f)
	return true
}

// writeCSV reads the service's items a second time and writes them to path
// as rows under cols; csvPass does this when the columns grew after it had
// started writing rows. items is the count of the first read.
func (p *packer) writeCSV(ctx context.Context, part Part, cols *columns, items int, path string) error {
	s, err := openItems(ctx, part.Open, p.maxItem)
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := p.create(path)
	if err != nil {
		return err
	}
	t := newCSVTable(cols)
	if _, err := e.s.Write(t.header()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	n := 0
	for {
		item, ok, err := s.next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if n++; n > items {
			return fmt.Errorf("%w: item %d", ErrChanged, n)
		}
		rec, ok := t.record(item)
		if !ok {
			return fmt.Errorf("%w: item %d", ErrChanged, n)
		}
		if _, err := e.s.Write(rec); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if n != items {
		return fmt.Errorf("%w: %d items, then %d", ErrChanged, items, n)
	}
	if err := p.finish(e); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("close stored export: %w", err)
	}
	return nil
}
