package export

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCSVRowMatchesEncodingCSV checks the record writer against
// encoding/csv's Writer, which wrote the CSV files before it, on random
// records made of the characters that change how a field is written.
func TestCSVRowMatchesEncodingCSV(t *testing.T) {
	t.Parallel()
	pieces := []string{"a", "é", ",", `"`, "\r", "\n", " ", "\t", "\u00a0", "\u2028", `\`, ".", `\.`, "'", "=1", ""}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		record := make([]string, 1+rng.IntN(4))
		for i := range record {
			var b strings.Builder
			for range rng.IntN(4) {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
			record[i] = b.String()
		}
		want := encodingCSV(t, record)
		row := newCSVRow(len(record))
		for i, f := range record {
			row.cells[i] = []byte(f)
		}
		if got := string(row.record()); got != want {
			t.Fatalf("record %q: wrote %q, encoding/csv %q", record, got, want)
		}
		// The same cells marked plain, where they could be: text without
		// the characters a JSON string must escape.
		for i, f := range record {
			row.plain[i] = !strings.ContainsAny(f, "\"\\\r\n\t")
		}
		if got := string(row.record()); got != want {
			t.Fatalf("record %q, plain cells: wrote %q, encoding/csv %q", record, got, want)
		}
	}
}

// encodingCSV writes record as the package did before csvRow: with
// encoding/csv, and a record of one empty field as "".
func encodingCSV(tb testing.TB, record []string) string {
	tb.Helper()
	if len(record) == 1 && record[0] == "" {
		return "\"\"\n"
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if err := cw.Write(record); err != nil {
		tb.Fatal(err)
	}
	cw.Flush()
	return buf.String()
}

// TestCSVRowCells checks set against the cell formatting of the README:
// text unescaped and defused, numbers and booleans as written, null empty.
func TestCSVRowCells(t *testing.T) {
	t.Parallel()
	item := []byte(`{"s":"a\"b\u00e9","f":"=SUM(A1)","e":"-\n","n":-5,"b":true,"z":null,"u":"plain"}`)
	var scan flatScanner
	var f field
	row := newCSVRow(7)
	row.reset(len(item))
	if !scan.start(item) {
		t.Fatal("not an object")
	}
	for i := 0; scan.next(&f); i++ {
		row.set(i, &f)
	}
	var got []string
	for _, c := range row.cells {
		got = append(got, string(c))
	}
	want := []string{`a"bé`, "'=SUM(A1)", "'-\n", "-5", "true", "", "plain"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
}
