package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// slack is how far past MaxItemBytes a member of the top-level object other
// than "items" may reach before it is declared too large.
const slack = 64 << 10

// readSize is the smallest read from a stored export.
const readSize = 64 << 10

// itemStream reads the items of one stored export one at a time, in one pass
// over its bytes: it finds each item's end and checks its syntax
// (valueScanner) without decoding it, and hands out the item's bytes where
// they lie in its buffer. The buffer holds at most one item (MaxItemBytes)
// and the read after it, so memory stays bounded and a huge item is refused
// without being read whole. Keys of the top-level object other than "items"
// are checked and skipped, each bounded like an item plus slack.
type itemStream struct {
	rc        io.ReadCloser
	maxItem   int
	buf       []byte
	r, w      int   // buf[r:w] is read and not yet consumed
	off       int64 // offset in the stored export of buf[0]
	eof       bool
	rerr      error // a read's error other than io.EOF, reported once its bytes are used up
	vs        valueScanner
	first     bool // no item read yet
	done      bool
	closed    bool
	raw       bool   // the last item is as stored: vs.keys are its own
	tidy      []byte // an item with its invalid UTF-8 replaced
	compacted []byte // an item without its line breaks
}

// openItems opens a stored export and reads up to its first item.
func openItems(ctx context.Context, open func(context.Context) (io.ReadCloser, error), maxItem int) (*itemStream, error) {
	rc, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stored export: %w", err)
	}
	s := &itemStream{rc: rc, maxItem: maxItem, buf: make([]byte, readSize)}
	if err := s.head(); err != nil {
		rc.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the stored export; calling it again does nothing.
func (s *itemStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.rc.Close()
}

// fill reads until at least n bytes are unconsumed or the export ends, and
// reports false at its end. The buffer grows to n if it must, and never
// past it: reading stays within one item's worth of the current position.
func (s *itemStream) fill(n int) (bool, error) {
	for s.w-s.r < n {
		if s.eof {
			return false, nil
		}
		if s.rerr != nil {
			return false, s.rerr
		}
		if len(s.buf)-s.r < n || s.w == len(s.buf) {
			if len(s.buf) < n {
				grown := make([]byte, n)
				s.w = copy(grown, s.buf[s.r:s.w])
				s.buf = grown
			} else {
				s.w = copy(s.buf, s.buf[s.r:s.w])
			}
			s.off += int64(s.r)
			s.r = 0
		}
		k, err := s.rc.Read(s.buf[s.w:])
		s.w += k
		switch {
		case err == io.EOF:
			s.eof = true
		case err != nil:
			s.rerr = err
		}
	}
	return true, nil
}

// peek skips whitespace and returns the next byte without consuming it.
func (s *itemStream) peek() (byte, error) {
	for {
		for ; s.r < s.w; s.r++ {
			switch c := s.buf[s.r]; c {
			case ' ', '\t', '\n', '\r':
			default:
				return c, nil
			}
		}
		more, err := s.fill(1)
		if err != nil {
			return 0, s.readFail(err)
		}
		if !more {
			return 0, s.malformed(s.r)
		}
	}
}

// expect consumes the next byte, after whitespace, which must be c.
func (s *itemStream) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.malformed(s.r)
	}
	s.r++
	return nil
}

// value consumes the value at s.r (after peek) and returns its bytes, valid
// until the next read; one larger than limit fails with ErrItemTooLarge.
func (s *itemStream) value(limit int) ([]byte, error) {
	for {
		n, err := s.vs.scan(s.buf[s.r:s.w])
		if err == nil {
			if n > limit {
				return nil, s.tooLarge()
			}
			v := s.buf[s.r : s.r+n]
			s.r += n
			return v, nil
		}
		var syntax *syntaxError
		if errors.As(err, &syntax) {
			return nil, s.malformed(s.r + syntax.pos)
		}
		// Short: the value is at least as long as what is buffered.
		have := s.w - s.r
		if s.eof {
			return nil, s.malformed(s.w) // truncated
		}
		if have > limit {
			return nil, s.tooLarge()
		}
		more, err := s.fill(min(max(2*have, readSize), limit+1))
		if err != nil {
			return nil, s.readFail(err)
		}
		if !more && s.w-s.r == have {
			return nil, s.malformed(s.w)
		}
	}
}

// head reads up to the opening bracket of the items array.
func (s *itemStream) head() error {
	if err := s.expect('{'); err != nil {
		return err
	}
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == '}' {
		return s.malformed(s.r) // {}: no items
	}
	return s.members(false)
}

// members reads members of the top-level object from a name on. Before the
// items array (seenItems false) it stops after the array's opening bracket;
// after it, it reads to the end of the document.
func (s *itemStream) members(seenItems bool) error {
	for {
		if c, err := s.peek(); err != nil {
			return err
		} else if c != '"' {
			return s.malformed(s.r)
		}
		at := s.r
		name, err := s.value(s.maxItem + slack)
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if unquote(name, bytes.IndexByte(name, '\\') >= 0) == "items" {
			if seenItems {
				return s.malformed(at) // twice: which one would the service mean?
			}
			if err := s.expect('['); err != nil {
				return err
			}
			s.first = true
			return nil
		}
		if _, err := s.peek(); err != nil {
			return err
		}
		if _, err := s.value(s.maxItem + slack); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.r++
		switch c {
		case ',':
			continue
		case '}':
		default:
			return s.malformed(s.r - 1)
		}
		if !seenItems {
			return s.malformed(s.r - 1) // the object ended without items
		}
		// Nothing may follow the document.
		if _, err := s.peek(); err == nil {
			return s.malformed(s.r)
		} else if !errors.Is(err, ErrMalformed) {
			return err
		}
		return nil
	}
}

// afterItems reads what follows the items array's ']' to the end.
func (s *itemStream) afterItems() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	s.r++
	switch c {
	case ',':
		return s.members(true)
	case '}':
		if _, err := s.peek(); err == nil {
			return s.malformed(s.r)
		} else if !errors.Is(err, ErrMalformed) {
			return err
		}
		return nil
	}
	return s.malformed(s.r - 1)
}

// next returns the next item, valid until the following call, or ok false
// after the last one. The item is valid UTF-8 (invalid bytes, which can only
// sit inside strings, become U+FFFD) and fits on one line.
func (s *itemStream) next(ctx context.Context) (item []byte, ok bool, err error) {
	if s.done {
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	c, err := s.peek()
	if err != nil {
		return nil, false, err
	}
	if !s.first && c != ']' {
		if c != ',' {
			return nil, false, s.malformed(s.r)
		}
		s.r++
		if c, err = s.peek(); err != nil {
			return nil, false, err
		}
		if c == ']' {
			return nil, false, s.malformed(s.r) // [1,]
		}
	}
	if c == ']' {
		s.r++
		if err := s.afterItems(); err != nil {
			return nil, false, err
		}
		s.done = true
		return nil, false, nil
	}
	s.first = false
	if item, err = s.value(s.maxItem); err != nil {
		return nil, false, err
	}
	s.raw = true
	if !utf8.Valid(item) {
		s.raw = false
		s.tidy = append(s.tidy[:0], bytes.ToValidUTF8(item, []byte("\uFFFD"))...)
		item = s.tidy
	}
	if s.vs.newline {
		s.raw = false
		s.compacted = compact(s.compacted[:0], item)
		item = s.compacted
	}
	return item, true, nil
}

// malformed reports the stored export as not the expected JSON, by offset
// only: the bytes are personal data.
func (s *itemStream) malformed(at int) error {
	return fmt.Errorf("%w (at byte %d)", ErrMalformed, s.off+int64(at))
}

func (s *itemStream) tooLarge() error {
	return fmt.Errorf("%w: item at byte %d is over %d bytes", ErrItemTooLarge, s.off+int64(s.r), s.maxItem)
}

func (s *itemStream) readFail(err error) error {
	return fmt.Errorf("read stored export: %w", err)
}

// writeJSON writes the service's items to path, passes each to csv (which
// also collects their columns), and returns how many there were.
func (p *packer) writeJSON(ctx context.Context, part Part, path string, csv *csvPass) (int, error) {
	s, err := openItems(ctx, part.Open, p.maxItem)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	e, err := p.create(path)
	if err != nil {
		return 0, err
	}
	w := e.s
	w.WriteString("{\n  \"service\": ")
	writeString(w, part.Service)
	w.WriteString(",\n  \"name\": ")
	writeString(w, part.Name)
	w.WriteString(",\n  \"items\": [")
	cols := csv.cols
	n := 0
	for {
		s.vs.topKeys = cols.flat
		item, ok, err := s.next(ctx)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		if n > 0 {
			w.WriteString(",\n    ")
		} else {
			w.WriteString("\n    ")
		}
		if _, err := w.Write(item); err != nil {
			return 0, fmt.Errorf("write %s: %w", path, err)
		}
		if cols.flat {
			if s.raw {
				cols.addKeys(item, s.vs.keys, s.vs.nested)
			} else {
				cols.add(item)
			}
			var vs *valueScanner
			if s.raw {
				vs = &s.vs
			}
			if err := csv.add(item, vs); err != nil {
				return 0, err
			}
		}
		n++
	}
	if n > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("]\n}\n")
	if err := p.finish(e); err != nil {
		return 0, err
	}
	if err := s.Close(); err != nil {
		return 0, fmt.Errorf("close stored export: %w", err)
	}
	return n, nil
}

// writeString writes s as a JSON string.
func writeString(w io.Writer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	w.Write(b)
}
