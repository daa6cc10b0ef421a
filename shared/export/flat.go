package export

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxColumns caps the CSV columns of a service: items with more distinct keys
// than this are not a table anyone can read, and the key set must stay small.
const maxColumns = 1000

// columns collects the CSV columns of a service, the union of its items' keys
// in first-seen order, while every item is a flat object: an object whose
// values are strings, numbers, booleans or null.
type columns struct {
	index map[string]int
	names []string
	flat  bool
	order keyOrder
	scan  flatScanner
	f     field
}

func newColumns() *columns { return &columns{index: map[string]int{}, flat: true} }

// tabular reports whether the service gets a CSV file: every item was flat
// and they have at least one key between them.
func (c *columns) tabular() bool { return c.flat && len(c.names) > 0 }

// add takes in the keys of one item, or notes that it is not flat.
func (c *columns) add(item []byte) {
	if !c.flat {
		return
	}
	if !c.scan.start(item) {
		c.notFlat()
		return
	}
	for k := 0; c.scan.next(&c.f); k++ {
		if !c.addKey(k) {
			return
		}
	}
	if c.scan.nested {
		c.notFlat()
	}
}

// keyOrder remembers the column of each member of the previous item: items
// of one service mostly have the same keys in the same order, and comparing
// a key with the column there is cheaper than hashing it.
type keyOrder []int

// same reports whether the k-th member's key is the k-th of the previous item.
func (o keyOrder) same(k int, f *field, names []string) bool {
	return !f.keyEscaped && k < len(o) && string(inner(f.key)) == names[o[k]]
}

func (o *keyOrder) set(k, column int) {
	if k < len(*o) {
		(*o)[k] = column
	} else {
		*o = append(*o, column)
	}
}

// addKeys does what add does, for an item whose member names valueScanner
// recorded (topKeys): keys are their spans in item, nested whether a member
// is an object or an array.
func (c *columns) addKeys(item []byte, keys [][2]int, nested bool) {
	if !c.flat {
		return
	}
	if len(item) == 0 || item[0] != '{' || nested {
		c.notFlat()
		return
	}
	for k, span := range keys {
		c.f.key = item[span[0]:span[1]]
		c.f.keyEscaped = bytes.IndexByte(c.f.key, '\\') >= 0
		if !c.addKey(k) {
			return
		}
	}
}

// addKey takes in c.f.key, the k-th member's name of an item; false when
// that makes too many columns (and the service not flat).
func (c *columns) addKey(k int) bool {
	if c.order.same(k, &c.f, c.names) {
		return true // the previous item's key at this place: no map lookup
	}
	i, ok := 0, false
	if !c.f.keyEscaped {
		i, ok = c.index[string(inner(c.f.key))] // without allocating
	}
	if !ok {
		key := unquote(c.f.key, c.f.keyEscaped)
		if i, ok = c.index[key]; !ok {
			if len(c.names) == maxColumns {
				c.notFlat()
				return false
			}
			i = len(c.names)
			c.index[key] = i
			c.names = append(c.names, key)
		}
	}
	c.order.set(k, i)
	return true
}

func (c *columns) notFlat() {
	c.flat, c.index, c.names, c.order = false, nil, nil, nil
}

// field is one member of a flat object, as encoded.
type field struct {
	key        []byte // with its quotes
	keyEscaped bool   // key holds a backslash escape
	kind       byte   // '"' string, 'n' null, '0' number or boolean
	val        []byte // as encoded; strings with their quotes
	valEscaped bool
}

// flatScanner walks the members of an encoded JSON object. The item reader has
// already checked the syntax, so it only finds boundaries.
type flatScanner struct {
	b      []byte
	i      int
	nested bool // a member's value was an object or an array
}

// start begins an object and reports whether b is one.
func (s *flatScanner) start(b []byte) bool {
	s.b, s.i, s.nested = b, 0, false
	s.space()
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.space()
	return true
}

// next reads the next member into f and reports whether there was one. It
// stops, setting nested, at a member whose value is an object or an array.
func (s *flatScanner) next(f *field) bool {
	s.space()
	if s.peek() == ',' {
		s.i++
		s.space()
	}
	if s.peek() != '"' {
		return false // '}': the end
	}
	f.key, f.keyEscaped = s.str()
	s.space()
	s.i++ // ':'
	s.space()
	switch c := s.peek(); c {
	case '"':
		f.kind = '"'
		f.val, f.valEscaped = s.str()
	case '{', '[':
		s.nested = true
		return false
	case 'n':
		f.kind, f.val = 'n', nil
		s.i += len("null")
	default: // a number, true or false
		j := s.i
	literal:
		for ; j < len(s.b); j++ {
			switch s.b[j] {
			case ' ', '\t', '\r', '\n', ',', '}':
				break literal
			}
		}
		f.kind, f.val = '0', s.b[s.i:j]
		s.i = j
	}
	return true
}

func (s *flatScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *flatScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// str reads the string at s.i and returns it with its quotes.
func (s *flatScanner) str() (quoted []byte, escaped bool) {
	j := s.i + 1
	for {
		j = plainRun(s.b, j)
		if j >= len(s.b) || s.b[j] == '"' {
			break
		}
		if s.b[j] == '\\' {
			escaped = true
			j++
		}
		j++
	}
	j = min(j+1, len(s.b))
	quoted, s.i = s.b[s.i:j], j
	return quoted, escaped
}

// inner returns an encoded JSON string without its quotes.
func inner(quoted []byte) []byte {
	if len(quoted) < 2 {
		return nil
	}
	return quoted[1 : len(quoted)-1]
}

// unquote returns the text of an encoded JSON string.
func unquote(quoted []byte, escaped bool) string {
	if !escaped {
		return string(inner(quoted))
	}
	// Built in place: a cell can be as large as an item, and json.Unmarshal
	// would hold two copies of it.
	var b strings.Builder
	b.Grow(len(quoted)) // the text is never longer than its encoding
	unescape(&b, inner(quoted))
	return b.String()
}

// textWriter is what unescape writes to: a strings.Builder or a bytes.Buffer.
type textWriter interface {
	Write([]byte) (int, error)
	WriteByte(byte) error
	WriteRune(rune) (int, error)
}

// unescape writes the text of the content of an encoded JSON string to b,
// decoding escapes as encoding/json does (a lone surrogate becomes U+FFFD).
func unescape(b textWriter, s []byte) {
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 || i+1 == len(s) {
			b.Write(s)
			return
		}
		b.Write(s[:i])
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(s)
			s = s[min(4, len(s)):]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2 = hex4(s[2:])
				}
				if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
					r, s = pair, s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(c)
		}
	}
}

// hex4 decodes the four hex digits of a \u escape; -1 if they are not.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// defuse keeps a spreadsheet from running a cell as a formula, as OWASP's
// "CSV Injection" advice says: a text starting with =, +, -, @, tab or
// carriage return gets a leading single quote. The data comes from the
// services and could have been typed by anyone; the JSON file keeps the exact
// text. JSON numbers, booleans and null cannot start a formula and are left
// alone, so -5 stays a number.
func defuse(s string) string {
	if s != "" && risky(s[0]) {
		return "'" + s
	}
	return s
}

func risky(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
