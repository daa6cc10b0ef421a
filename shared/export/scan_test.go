package export

import (
	"bytes"
	stdcmp "cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// readAll reads every item of doc with the one-pass reader, or the
// reference (the decoder it replaced), and returns copies of the items and
// the class of the error: "", "malformed", "too large" or "read".
func readAll(tb testing.TB, doc string, maxItem int, ref bool, chunk bool) (items []string, class string) {
	tb.Helper()
	open := func(context.Context) (io.ReadCloser, error) {
		var r io.Reader = strings.NewReader(doc)
		if chunk {
			r = iotest.OneByteReader(r) // every boundary falls between two reads
		}
		return io.NopCloser(r), nil
	}
	ctx := context.Background()
	var next func() ([]byte, bool, error)
	if ref {
		s, err := refOpenItems(ctx, open, maxItem)
		if err != nil {
			return nil, errClass(err)
		}
		defer s.Close()
		next = func() ([]byte, bool, error) { return s.next(ctx) }
	} else {
		s, err := openItems(ctx, open, maxItem)
		if err != nil {
			return nil, errClass(err)
		}
		defer s.Close()
		next = func() ([]byte, bool, error) { return s.next(ctx) }
	}
	for {
		item, ok, err := next()
		if err != nil {
			return items, errClass(err)
		}
		if !ok {
			return items, ""
		}
		items = append(items, string(item))
	}
}

func errClass(err error) string {
	switch {
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrItemTooLarge):
		return "too large"
	}
	return "read"
}

type scanCase struct {
	name    string
	doc     string
	maxItem int // 0: 1 MiB
	items   []string
	class   string
}

// scanCases returns stored exports with what the reader must make of them.
// It is a function so that the megabytes of its large cases are not built
// when only the benchmarks run (they measure peak memory).
func scanCases() []scanCase {
	return []scanCase{
		{name: "empty items", doc: `{"items":[]}`, items: nil},
		{name: "empty body", doc: ``, class: "malformed"},
		{name: "only space", doc: " \n\t", class: "malformed"},
		{name: "empty object", doc: `{}`, class: "malformed"},
		{name: "scalars", doc: `{"items":["a",1,-0.5e+3,true,false,null,{}, []]}`, items: []string{`"a"`, `1`, `-0.5e+3`, `true`, `false`, `null`, `{}`, `[]`}},
		{name: "nested", doc: `{"items":[{"a":{"b":[1,{"c":[[],{}]}]},"d":"x"}]}`, items: []string{`{"a":{"b":[1,{"c":[[],{}]}]},"d":"x"}`}},
		{name: "pretty printed", doc: "{\n  \"items\": [\n    {\n      \"a\": [1, 2],\n      \"b\": \"x y\"\n    }\n  ]\n}\n", items: []string{`{"a":[1,2],"b":"x y"}`}},
		{name: "carriage returns", doc: "{\"items\":[{\"a\":\r\n1\t}]}", items: []string{`{"a":1}`}},
		{name: "spaces kept without a line break", doc: `{"items":[ { "a" : 1 } ]}`, items: []string{`{ "a" : 1 }`}},
		{name: "escapes", doc: `{"items":["\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00 \" ] }"]}`, items: []string{`"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00 \" ] }"`}},
		{name: "invalid UTF-8 repaired", doc: "{\"items\":[\"Ren\xe9\"]}", items: []string{"\"Ren\uFFFD\""}},
		{name: "other members before and after", doc: `{"meta":{"x":[1]},"items":[1],"next":null}`, items: []string{`1`}},
		{name: "items named with an escape", doc: `{"\u0069tems":[1]}`, items: []string{`1`}},
		{name: "items twice", doc: `{"items":[],"items":[1]}`, class: "malformed"},
		{name: "items null", doc: `{"items":null}`, class: "malformed"},
		{name: "items an object", doc: `{"items":{"a":1}}`, class: "malformed"},
		{name: "array at the top", doc: `[{"items":[]}]`, class: "malformed"},
		// Found by FuzzItemStream: numbers past float64's range are text
		// here, never converted, wherever they stand.
		{name: "number at the top past float64's range", doc: "1" + strings.Repeat("0", 309), class: "malformed"},
		{name: "numbers past float64's range", doc: `{"x":1e999,"items":[-1e999,{"a":1e400}]}`, items: []string{`-1e999`, `{"a":1e400}`}},
		{name: "trailing data", doc: `{"items":[]} {}`, class: "malformed"},
		{name: "trailing space", doc: "{\"items\":[]} \n", items: nil},
		{name: "truncated item", doc: `{"items":[{"a":"xy`, class: "malformed"},
		{name: "truncated after items", doc: `{"items":[1]`, class: "malformed"},
		{name: "truncated number", doc: `{"items":[12`, class: "malformed"},
		{name: "missing comma", doc: `{"items":[{"a":1}{"b":2}]}`, class: "malformed"},
		{name: "trailing comma in items", doc: `{"items":[1,]}`, class: "malformed"},
		{name: "leading comma in items", doc: `{"items":[,1]}`, class: "malformed"},
		{name: "trailing comma in an item", doc: `{"items":[{"a":1,}]}`, class: "malformed"},
		{name: "trailing comma at the top", doc: `{"items":[1],}`, class: "malformed"},
		{name: "missing colon", doc: `{"items":[{"a" 1}]}`, class: "malformed"},
		{name: "mismatched bracket", doc: `{"items":[{"a":[1}]}`, class: "malformed"},
		{name: "bad literal", doc: `{"items":[tru]}`, class: "malformed"},
		{name: "bare word", doc: `{"items":[Ada]}`, class: "malformed"},
		{name: "leading zero", doc: `{"items":[01]}`, class: "malformed"},
		{name: "plus sign", doc: `{"items":[+1]}`, class: "malformed"},
		{name: "bare dot", doc: `{"items":[1.]}`, class: "malformed"},
		{name: "bare exponent", doc: `{"items":[1e]}`, class: "malformed"},
		{name: "control character in a string", doc: "{\"items\":[\"a\x01\"]}", class: "malformed"},
		{name: "bad escape", doc: `{"items":["\x"]}`, class: "malformed"},
		{name: "short unicode escape", doc: `{"items":["\u12"]}`, class: "malformed"},
		{name: "single quotes", doc: `{"items":['a']}`, class: "malformed"},
		{name: "byte order mark", doc: "\xef\xbb\xbf{\"items\":[]}", class: "malformed"},
		{name: "nested at the limit", doc: `{"items":[` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `]}`, items: []string{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)}},
		{name: "nested too deep", doc: `{"items":[` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `]}`, class: "malformed"},
		{name: "item at the limit", doc: `{"items":["` + strings.Repeat("x", 62) + `"]}`, maxItem: 64, items: []string{`"` + strings.Repeat("x", 62) + `"`}},
		{name: "number at the limit", doc: `{"items":[` + strings.Repeat("1", 64) + `]}`, maxItem: 64, items: []string{strings.Repeat("1", 64)}},
		{name: "item over the limit", doc: `{"items":["` + strings.Repeat("x", 63) + `"]}`, maxItem: 64, class: "too large"},
		{name: "huge item", doc: `{"items":[1,"` + strings.Repeat("é", 3<<20) + `",2]}`, maxItem: 8 << 20, items: []string{`1`, `"` + strings.Repeat("é", 3<<20) + `"`, `2`}},
		{name: "huge item over the limit", doc: `{"items":["` + strings.Repeat("x", 3<<20) + `"]}`, maxItem: 1 << 20, class: "too large"},
		{name: "other member over the limit", doc: `{"meta":"` + strings.Repeat("x", 70<<10) + `","items":[]}`, maxItem: 64, class: "too large"},
	}
}

func TestItemStream(t *testing.T) {
	t.Parallel()
	for _, tt := range scanCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			maxItem := stdcmp.Or(tt.maxItem, 1<<20)
			for _, chunk := range []bool{false, true} {
				if chunk && len(tt.doc) > 1<<16 {
					continue // one byte a read: too slow for megabytes, and the small cases cover it
				}
				items, class := readAll(t, tt.doc, maxItem, false, chunk)
				if class != tt.class {
					t.Errorf("one byte a read %v: error class %q, want %q", chunk, class, tt.class)
				}
				if tt.class == "" {
					if diff := cmp.Diff(tt.items, items); diff != "" {
						t.Errorf("one byte a read %v: items (-want +got):\n%s", chunk, diff)
					}
				}
			}
		})
	}
}

// TestItemStreamMatchesDecoder checks the cases against the encoding/json
// reader the scanner replaced: the same items, the same kind of error.
func TestItemStreamMatchesDecoder(t *testing.T) {
	t.Parallel()
	for _, tt := range scanCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkAgainstDecoder(t, tt.doc, stdcmp.Or(tt.maxItem, 1<<20))
		})
	}
}

func checkAgainstDecoder(tb testing.TB, doc string, maxItem int) {
	tb.Helper()
	wantItems, wantClass := readAll(tb, doc, maxItem, true, false)
	gotItems, gotClass := readAll(tb, doc, maxItem, false, false)
	if gotClass != wantClass {
		tb.Errorf("error class %q, the decoder's %q", gotClass, wantClass)
	}
	if wantClass == "" {
		if diff := cmp.Diff(wantItems, gotItems); diff != "" {
			tb.Errorf("items (-decoder +scanner):\n%s", diff)
		}
	}
}

// FuzzItemStream compares the scanner with the decoder on any input:
// go test -run '^$' -fuzz FuzzItemStream ./shared/export/
func FuzzItemStream(f *testing.F) {
	for _, tt := range scanCases() {
		if len(tt.doc) < 4096 {
			f.Add(tt.doc)
		}
	}
	f.Fuzz(func(t *testing.T, doc string) {
		checkAgainstDecoder(t, doc, 1<<20)
	})
}

// TestCompact checks compact against json.Compact's output on the
// pretty-printed test data.
func TestCompact(t *testing.T) {
	t.Parallel()
	doc := []byte("{\n \"a\" : [ 1 ,\t2 ],\r\n \"b\\\" \" : \"x \\\\\" , \"c\":{ } }")
	want := `{"a":[1,2],"b\" ":"x \\","c":{}}`
	if got := compact(nil, doc); !bytes.Equal(got, []byte(want)) {
		t.Errorf("compact = %s, want %s", got, want)
	}
}

// TestSpecial checks the word-at-a-time test against the byte table, for
// every byte at every position of a word, beside plain and high bytes.
func TestSpecial(t *testing.T) {
	t.Parallel()
	for _, filler := range []byte{'a', 0x7f, 0x80, 0xff, ' ', '#', '[', ']'} {
		for c := range 256 {
			for pos := range 8 {
				word := bytes.Repeat([]byte{filler}, 8)
				word[pos] = byte(c)
				want := !strPlain[c] || !strPlain[filler]
				if got := special(binary.LittleEndian.Uint64(word)); got != want {
					t.Errorf("special(% x) = %v, want %v", word, got, want)
				}
			}
		}
	}
}

// TestAddKeysMatchesAdd checks the CSV columns found from the scanner's
// recorded member names against those of flatScanner's walk of each item.
func TestAddKeysMatchesAdd(t *testing.T) {
	t.Parallel()
	wide := make([]string, maxColumns+1)
	for i := range wide {
		wide[i] = `"k` + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + `` + strings.Repeat("y", i/26) + `":1`
	}
	services := [][]string{
		{`{"a":1,"b":"x"}`, `{"b":2,"c":null}`, `{"a":true}`},
		{`{"a":1}`, `{"b":{"c":1}}`},
		{`{"a":1}`, `{"b":[1]}`, `{"c":1}`},
		{`{"a":1}`, `"text"`},
		{`[{"a":1}]`},
		{`{}`, `{}`},
		{`{"\u0061":1,"a":2,"b\"c":3}`, `{"b\"c":1,"\/":2}`},
		{`{"a":1,"a":2}`, `{"b":1}`},
		{`{"a":{"b":1},"c":2}`},
		{`{"` + strings.Repeat("k", 100) + `":"` + strings.Repeat("v", 1000) + `"}`},
		{`{` + strings.Join(wide[:maxColumns], ",") + `}`},
		{`{` + strings.Join(wide, ",") + `}`},
		{`{` + strings.Join(wide[:maxColumns/2], ",") + `}`, `{` + strings.Join(wide[maxColumns/2:], ",") + `}`},
	}
	for n, items := range services {
		want, got := newColumns(), newColumns()
		vs := valueScanner{topKeys: true}
		for _, item := range items {
			want.add([]byte(item))
			end, err := vs.scan([]byte(item + " "))
			if err != nil || end != len(item) {
				t.Fatalf("service %d: scan %s: %d, %v", n, item, end, err)
			}
			got.addKeys([]byte(item), vs.keys, vs.nested)
		}
		if want.flat != got.flat || !slices.Equal(want.names, got.names) {
			t.Errorf("service %d: add gives flat %v, %d columns %.60q; addKeys flat %v, %d columns %.60q", n, want.flat, len(want.names), want.names, got.flat, len(got.names), got.names)
		}
	}
}

// TestRecordSpansMatchesRecord checks the CSV record made from the
// scanner's recorded members against the one from flatScanner's walk.
func TestRecordSpansMatchesRecord(t *testing.T) {
	t.Parallel()
	items := []string{
		`{"a":1,"b":"x","c":null,"d":true,"e":false,"f":-1.5e3}`,
		`{ "b" : "x,y" , "a" : 2 }`,
		`{"a":"=1+1","b":"-2","c":" lead","d":"\u00a0nbsp"}`,
		`{"a":"q\"uote","b":"line\nbreak","c":"tab\there","d":"\\.","e":"\/"}`,
		`{"\u0061":"escaped key","b\"c":1}`,
		`{"a":1,"a":2}`,
		`{}`,
		`{"a":""}`,
		`{"a":"é 🙂 \ud83d\ude42"}`,
	}
	cols := newColumns()
	for _, item := range items {
		cols.add([]byte(item))
	}
	if !cols.tabular() || len(cols.names) != 7 {
		t.Fatalf("columns %q, flat %v", cols.names, cols.flat)
	}
	// Items that must fail alike: nested, or with a key that is not a column.
	items = append(items, `{"b":{"c":1}}`, `{"a":1,"b":[1]}`, `{"zz":1}`)
	flat, spans := newCSVTable(cols), newCSVTable(cols)
	vs := valueScanner{topKeys: true}
	for _, item := range items {
		end, err := vs.scan([]byte(item + " "))
		if err != nil || end != len(item) {
			t.Fatalf("scan %s: %d, %v", item, end, err)
		}
		want, wantOK := flat.record([]byte(item))
		got, gotOK := spans.recordSpans([]byte(item), vs.keys, vs.vals)
		if string(got) != string(want) || gotOK != wantOK {
			t.Errorf("item %s: record %q, %v; recordSpans %q, %v", item, want, wantOK, got, gotOK)
		}
	}
}
