package export

// The decoder-based item reader this package used before valueScanner: kept
// as the reference the scanner is checked against (scan_test.go), so that
// the one-pass reader accepts and refuses exactly what it accepted and
// refused, and hands out the same items.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// refErrOverLimit is returned by refLimiter when the decoder asks for more than one
// item's worth of input.
var refErrOverLimit = errors.New("read past the item limit")

// refLimiter bounds how far the JSON decoder may read ahead of the current
// token. The decoder buffers a whole value before returning it, so without
// this one huge item would be read into memory before its size is checked.
type refLimiter struct {
	r       io.Reader
	read    int64 // bytes returned so far
	limit   int64 // read may not pass this offset
	tripped bool  // a read hit the limit: whatever error the decoder makes of it
}

func (l *refLimiter) Read(b []byte) (int, error) {
	room := l.limit - l.read
	if room <= 0 {
		l.tripped = true
		return 0, refErrOverLimit
	}
	if int64(len(b)) > room {
		b = b[:room]
	}
	n, err := l.r.Read(b)
	l.read += int64(n)
	return n, err
}

// refStream reads the items of one stored export one at a time. Keys of the
// top-level object other than "items" are skipped, each bounded like an item.
type refStream struct {
	rc      io.ReadCloser
	lim     *refLimiter
	dec     *json.Decoder
	maxItem int
	raw     json.RawMessage
	tidy    bytes.Buffer
	done    bool
	closed  bool
}

// refOpenItems opens a stored export and reads up to its first item.
func refOpenItems(ctx context.Context, open func(context.Context) (io.ReadCloser, error), maxItem int) (*refStream, error) {
	rc, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stored export: %w", err)
	}
	lim := &refLimiter{r: bufio.NewReaderSize(rc, 64<<10)}
	s := &refStream{rc: rc, lim: lim, dec: json.NewDecoder(lim), maxItem: maxItem}
	// Numbers stay text: Token would otherwise convert a top-level number
	// to float64 and fail on one past its range (1e309) with an error that
	// is no syntax error, though the document is malformed all the same.
	s.dec.UseNumber()
	if err := s.head(); err != nil {
		rc.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the stored export; calling it again does nothing.
func (s *refStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.rc.Close()
}

// arm lets the decoder read one item's worth past its current position.
func (s *refStream) arm() {
	s.lim.limit = s.dec.InputOffset() + int64(s.maxItem) + slack
}

// head reads up to the opening bracket of the items array.
func (s *refStream) head() error {
	s.arm()
	if tok, err := s.dec.Token(); err != nil || tok != json.Delim('{') {
		return s.fail(err)
	}
	found, err := s.members(false)
	if err != nil {
		return err
	}
	if !found {
		return s.fail(nil)
	}
	return nil
}

// members reads members of the top-level object. Before the items array
// (seenItems false) it stops after the array's opening bracket and reports
// true; after it, it reads to the end of the document and reports false.
func (s *refStream) members(seenItems bool) (bool, error) {
	for {
		s.arm()
		tok, err := s.dec.Token()
		if err != nil {
			return false, s.fail(err)
		}
		if tok == json.Delim('}') {
			break
		}
		if tok == "items" {
			if seenItems {
				return false, s.fail(nil) // twice: which one would the service mean?
			}
			s.arm()
			if tok, err := s.dec.Token(); err != nil || tok != json.Delim('[') {
				return false, s.fail(err)
			}
			return true, nil
		}
		s.arm()
		var skip json.RawMessage
		if err := s.dec.Decode(&skip); err != nil {
			return false, s.fail(err)
		}
	}
	// Nothing may follow the document.
	s.arm()
	if _, err := s.dec.Token(); err != io.EOF {
		return false, s.fail(err)
	}
	return false, nil
}

// next returns the next item, valid until the following call, or ok false
// after the last one. The item is valid UTF-8 (invalid bytes, which can only
// sit inside strings, become U+FFFD) and fits on one line.
func (s *refStream) next(ctx context.Context) (item []byte, ok bool, err error) {
	if s.done {
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.arm()
	if !s.dec.More() {
		if tok, err := s.dec.Token(); err != nil || tok != json.Delim(']') {
			return nil, false, s.fail(err)
		}
		if _, err := s.members(true); err != nil {
			return nil, false, err
		}
		s.done = true
		return nil, false, nil
	}
	s.raw = s.raw[:0]
	if err := s.dec.Decode(&s.raw); err != nil {
		return nil, false, s.fail(err)
	}
	if len(s.raw) > s.maxItem {
		return nil, false, s.fail(refErrOverLimit)
	}
	item = s.raw
	if !utf8.Valid(item) {
		item = bytes.ToValidUTF8(item, []byte("\uFFFD"))
	}
	if bytes.IndexByte(item, '\n') >= 0 || bytes.IndexByte(item, '\r') >= 0 {
		s.tidy.Reset()
		if err := json.Compact(&s.tidy, item); err != nil {
			return nil, false, s.fail(err)
		}
		item = s.tidy.Bytes()
	}
	return item, true, nil
}

// fail classifies a decoding error. Syntax errors are reported by offset only:
// their text quotes the data, which is personal. A nil err means the
// document was well-formed JSON of the wrong shape.
func (s *refStream) fail(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, refErrOverLimit), s.lim.tripped:
		return fmt.Errorf("%w: item at byte %d is over %d bytes", ErrItemTooLarge, s.dec.InputOffset(), s.maxItem)
	case err == nil, err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return fmt.Errorf("%w (at byte %d)", ErrMalformed, s.dec.InputOffset())
	default:
		return fmt.Errorf("read stored export: %w", err)
	}
}
