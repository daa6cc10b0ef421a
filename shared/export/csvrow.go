package export

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// csvRow builds the CSV records of a service without a string per cell:
// cells point into the item or into one arena per row. It writes exactly
// what encoding/csv's Writer (comma, no CRLF) wrote before it, with a record
// of one empty field written as "" (writeRecord), as csvrow_test.go checks.
type csvRow struct {
	cells [][]byte // nil: an empty cell
	// plain marks cells that cannot hold a quote, CR, LF or other control
	// character: text of a JSON string without escapes (JSON has none of
	// them raw in a string), a number or a literal. Only a comma or a
	// leading space makes such a cell need quotes, which is quicker to see.
	plain []bool
	arena bytes.Buffer
	out   []byte
}

func newCSVRow(columns int) *csvRow {
	return &csvRow{cells: make([][]byte, columns), plain: make([]bool, columns)}
}

// reset clears the cells for an item of n bytes: the arena then holds every
// cell's text (never longer than its encoding, plus a quote for defuse)
// without growing, so cells taken from it stay valid.
func (r *csvRow) reset(n int) {
	clear(r.cells)
	clear(r.plain)
	r.arena.Reset()
	r.arena.Grow(2*n + 16)
}

// set fills cell i from a flat item's field: a string as its text (defused),
// a number as written in the JSON, a boolean as true or false, null as an
// empty cell.
func (r *csvRow) set(i int, f *field) {
	switch f.kind {
	case 'n':
		r.cells[i] = nil
	case '"':
		text := inner(f.val)
		if f.valEscaped {
			start := r.arena.Len()
			unescape(&r.arena, text)
			text = r.arena.Bytes()[start:]
		}
		if len(text) > 0 && risky(text[0]) {
			start := r.arena.Len()
			r.arena.WriteByte('\'')
			r.arena.Write(text)
			text = r.arena.Bytes()[start:]
		}
		r.cells[i], r.plain[i] = text, !f.valEscaped
	default:
		r.cells[i], r.plain[i] = f.val, true
	}
}

// record appends the cells as one CSV record.
func (r *csvRow) record() []byte {
	r.out = r.out[:0]
	if len(r.cells) == 1 && len(r.cells[0]) == 0 {
		r.out = append(r.out, "\"\"\n"...)
		return r.out
	}
	for i, c := range r.cells {
		if i > 0 {
			r.out = append(r.out, ',')
		}
		if r.plain[i] {
			r.out = appendPlainCSVField(r.out, c)
		} else {
			r.out = appendCSVField(r.out, c)
		}
	}
	r.out = append(r.out, '\n')
	return r.out
}

// appendCSVField appends one field as encoding/csv's Writer.Write does.
func appendCSVField(dst, field []byte) []byte {
	if !csvNeedsQuotes(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(field, '"')
		if i < 0 {
			dst = append(dst, field...)
			break
		}
		dst = append(dst, field[:i+1]...)
		dst = append(dst, '"')
		field = field[i+1:]
	}
	return append(dst, '"')
}

// appendPlainCSVField is appendCSVField for a plain cell (csvRow.plain):
// the same output, found with a search for a comma instead of a look at
// every byte.
func appendPlainCSVField(dst, field []byte) []byte {
	if len(field) == 0 || bytes.IndexByte(field, ',') < 0 && !leadingSpace(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	dst = append(dst, field...) // a plain cell holds no quote to double
	return append(dst, '"')
}

// leadingSpace reports whether field starts with a Unicode space, which
// makes encoding/csv quote it.
func leadingSpace(field []byte) bool {
	if c := field[0]; c < utf8.RuneSelf {
		return c == ' ' || '\t' <= c && c <= '\r'
	}
	r, _ := utf8.DecodeRune(field)
	return unicode.IsSpace(r)
}

// csvSpecial marks the bytes that make a CSV field need quotes. A table
// instead of bytes.IndexAny, which builds its set on every call: this runs
// for every cell of a package's CSV files.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// csvNeedsQuotes is encoding/csv's fieldNeedsQuotes for a comma.
func csvNeedsQuotes(field []byte) bool {
	if len(field) == 0 {
		return false
	}
	if string(field) == `\.` {
		return true
	}
	for _, c := range field {
		if csvSpecial[c] {
			return true
		}
	}
	r, _ := utf8.DecodeRune(field)
	return unicode.IsSpace(r)
}
