package export

import (
	"encoding/binary"
	"errors"
)

// maxDepth is how deeply arrays and objects may nest inside one value, as in
// encoding/json, whose decoder refused deeper values before this scanner
// replaced it.
const maxDepth = 10000

// errShort: the value does not end within the bytes given; more input may
// complete it.
var errShort = errors.New("value continues past the input")

// syntaxError is a byte that cannot appear where it stands. It holds only
// the position: the bytes are personal data.
type syntaxError struct{ pos int }

func (e *syntaxError) Error() string { return "invalid JSON" }

// valueScanner finds where one encoded JSON value ends and checks its syntax
// exactly as encoding/json does (RFC 8259; any byte from 0x20 up inside
// strings, invalid UTF-8 included; at most maxDepth levels of nesting). It
// reads the bytes once and copies nothing: the package passes items through
// as they were stored, so it needs their boundaries and their validity, not
// their values.
type valueScanner struct {
	stack   []byte // '{' or '[' of each open container
	newline bool   // the value holds a line break between its tokens

	// With topKeys set, scan records where the names and values of the
	// members of a top-level object are, and whether any member's value is
	// an object or an array: the CSV columns and cells, found without
	// walking the item again.
	topKeys bool
	keys    [][2]int // start and end of each name, with its quotes
	vals    [][2]int // start and end of each value, as encoded
	nested  bool
}

// strPlain marks the bytes that may stand in a string as they are.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scan returns the length of the value at the start of b (b[0] is not
// whitespace), errShort when b ends inside it, or a *syntaxError. A number
// at the very end of b is short: a digit might follow.
func (v *valueScanner) scan(b []byte) (int, error) {
	v.stack, v.newline, v.keys, v.vals, v.nested = v.stack[:0], false, v.keys[:0], v.vals[:0], false
	i := 0
	var err error
value:
	if i >= len(b) {
		return 0, errShort
	}
	switch c := b[i]; c {
	case '{':
		if len(v.stack) == maxDepth {
			return 0, &syntaxError{i}
		}
		if len(v.stack) == 1 && v.stack[0] == '{' {
			v.nested = true
		}
		v.stack = append(v.stack, '{')
		if i = v.space(b, i+1); i >= len(b) {
			return 0, errShort
		}
		if b[i] == '}' {
			v.stack = v.stack[:len(v.stack)-1]
			i++
			goto closed
		}
		if i, err = v.key(b, i); err != nil {
			return 0, err
		}
		goto value
	case '[':
		if len(v.stack) == maxDepth {
			return 0, &syntaxError{i}
		}
		if len(v.stack) == 1 && v.stack[0] == '{' {
			v.nested = true
		}
		v.stack = append(v.stack, '[')
		if i = v.space(b, i+1); i >= len(b) {
			return 0, errShort
		}
		if b[i] == ']' {
			v.stack = v.stack[:len(v.stack)-1]
			i++
			goto closed
		}
		goto value
	case '"':
		if i, err = str(b, i); err != nil {
			return 0, err
		}
	case 't':
		if i, err = literal(b, i, "true"); err != nil {
			return 0, err
		}
	case 'f':
		if i, err = literal(b, i, "false"); err != nil {
			return 0, err
		}
	case 'n':
		if i, err = literal(b, i, "null"); err != nil {
			return 0, err
		}
	default:
		if i, err = number(b, i); err != nil {
			return 0, err
		}
	}
closed: // a value ends before b[i]
	if len(v.stack) == 0 {
		return i, nil
	}
	if v.topKeys && len(v.stack) == 1 && len(v.vals) > 0 {
		v.vals[len(v.vals)-1][1] = i // the member's value (or a nested one's closing) ends here
	}
	if i = v.space(b, i); i >= len(b) {
		return 0, errShort
	}
	top := v.stack[len(v.stack)-1]
	switch b[i] {
	case ',':
		if i = v.space(b, i+1); i >= len(b) {
			return 0, errShort
		}
		if top == '{' {
			if i, err = v.key(b, i); err != nil {
				return 0, err
			}
		}
		goto value
	case '}', ']':
		if b[i] != top+2 { // '{'+2 is '}', '['+2 is ']'
			return 0, &syntaxError{i}
		}
		v.stack = v.stack[:len(v.stack)-1]
		i++
		goto closed
	}
	return 0, &syntaxError{i}
}

// key reads a member's name and its colon at b[i], and the space after them.
func (v *valueScanner) key(b []byte, i int) (int, error) {
	if b[i] != '"' {
		return 0, &syntaxError{i}
	}
	start := i
	i, err := str(b, i)
	if err != nil {
		return 0, err
	}
	if v.topKeys && len(v.stack) == 1 {
		v.keys = append(v.keys, [2]int{start, i})
	}
	if i = v.space(b, i); i >= len(b) {
		return 0, errShort
	}
	if b[i] != ':' {
		return 0, &syntaxError{i}
	}
	if i = v.space(b, i+1); i >= len(b) {
		return 0, errShort
	}
	if v.topKeys && len(v.stack) == 1 {
		v.vals = append(v.vals, [2]int{i, i})
	}
	return i, nil
}

// space returns the index of the first byte from i on that is not JSON
// whitespace, noting line breaks.
func (v *valueScanner) space(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t':
		case '\n', '\r':
			v.newline = true
		default:
			return i
		}
	}
	return i
}

// str reads the string whose opening quote is b[i] and returns the index
// after its closing quote.
func str(b []byte, i int) (int, error) {
	i++
	for {
		i = plainRun(b, i)
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, errShort
		}
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return 0, errShort
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) {
						return 0, errShort
					}
					if !isHex(b[k]) {
						return 0, &syntaxError{k}
					}
				}
				i += 6
			default:
				return 0, &syntaxError{i + 1}
			}
		default: // a control character
			return 0, &syntaxError{i}
		}
	}
}

// plainRun returns the index of the first word of eight bytes from i on
// that may hold a quote, a backslash or a control character, or of the last
// bytes if fewer than eight remain: strings are most of an export, and this
// skips their plain text a word at a time.
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	return i
}

// special reports whether any byte of x is '"', '\\' or below 0x20; bytes
// from 0x80 up are not. It is exact: (v - 0x01…) &^ v & 0x80… is nonzero
// if and only if a byte of v is zero, and v - 0x20… finds bytes below 0x20
// the same way.
func special(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(s-lo)&^s)&hi != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal reads true, false or null at b[i].
func literal(b []byte, i int, word string) (int, error) {
	for k := range len(word) {
		if i+k >= len(b) {
			return 0, errShort
		}
		if b[i+k] != word[k] {
			return 0, &syntaxError{i + k}
		}
	}
	return i + len(word), nil
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func number(b []byte, i int) (int, error) {
	if b[i] == '-' {
		if i++; i >= len(b) {
			return 0, errShort
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = digits(b, i+1)
	default:
		return 0, &syntaxError{i}
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) {
			return 0, errShort
		}
		if !isDigit(b[i]) {
			return 0, &syntaxError{i}
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return 0, errShort
		}
		if !isDigit(b[i]) {
			return 0, &syntaxError{i}
		}
		i = digits(b, i+1)
	}
	if i >= len(b) {
		return 0, errShort
	}
	return i, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// compact appends item without the whitespace between its tokens, as
// json.Compact does for a valid value.
func compact(dst, item []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(item); i++ {
		c := item[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, item[start:i]...)
			start = i + 1
		}
	}
	return append(dst, item[start:]...)
}
