package breachsend

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// Parsing and validating an upload, one line at a time.

// Upload limits that are not settings.
const (
	maxLineBytes  = 4096 // one CSV or NDJSON line
	maxFieldRunes = 254  // email (RFC 5321 path), name, identifier
	chunk         = 5000 // recipients per store write
)

// Line is one parsed line of an upload, before it is keyed.
type Line struct {
	Number     int // 1-based line of the body
	Email      string
	Language   string
	Name       string
	Identifier string
}

// lineError is a precise 4xx naming the line, never its content.
func lineError(line int, field, code, what string) error {
	return &privacy.Error{Kind: privacy.KindUnprocessable, Code: code, Field: field, Message: fmt.Sprintf("line %d: %s", line, what)}
}

// Validate normalises l (address trimmed and lower-cased, language in its
// canonical form, en when absent) and checks it. Errors name the line and
// the field, never the value.
func (l *Line) Validate() error {
	l.Email = strings.ToLower(strings.TrimSpace(l.Email))
	if l.Email == "" {
		return lineError(l.Number, "email", "invalid-recipient-email", "email is required")
	}
	if len(l.Email) > maxFieldRunes || !utf8.ValidString(l.Email) {
		return lineError(l.Number, "email", "invalid-recipient-email", "email must be a plain address of at most 254 characters")
	}
	if a, err := mail.ParseAddress(l.Email); err != nil || a.Name != "" || a.Address != l.Email ||
		!strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@'):], ".") {
		return lineError(l.Number, "email", "invalid-recipient-email", "email must be a plain address such as name@example.com")
	}
	lang, ok := language(l.Language)
	if !ok {
		return lineError(l.Number, "language", "invalid-recipient-language", "language must be en or zh-CN")
	}
	l.Language = lang
	for _, f := range []struct{ name, v string }{{"name", l.Name}, {"identifier", l.Identifier}} {
		if !utf8.ValidString(f.v) || utf8.RuneCountInString(f.v) > maxFieldRunes || strings.ContainsFunc(f.v, isControl) {
			return lineError(l.Number, f.name, "invalid-recipient-field", f.name+" must be text of at most 254 characters without control characters")
		}
	}
	l.Name, l.Identifier = strings.TrimSpace(l.Name), strings.TrimSpace(l.Identifier)
	return nil
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// language canonicalises a language tag to one of Languages; "" is en.
func language(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "en":
		return "en", true
	case "zh-cn", "zh", "zh-hans", "zh-hans-cn":
		return "zh-CN", true
	}
	return "", false
}

// Lines reads an upload of the given media type (text/csv, or
// application/x-ndjson / application/jsonl) one line at a time, calling fn
// with each, and never holds more than one line. A CSV has a header row
// naming its columns (email required; language, name, identifier optional;
// any order); NDJSON has one object per line with those members. Blank lines
// are skipped. Errors name the line, never its content.
func Lines(contentType string, body io.Reader, fn func(Line) error) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return privacy.Errorf(privacy.KindUnsupported, "unsupported-media-type", "recipient lists must be UTF-8")
	}
	switch mt {
	case "text/csv":
		return csvLines(body, fn)
	case "application/x-ndjson", "application/jsonl", "application/ndjson":
		return ndjsonLines(body, fn)
	}
	return privacy.Errorf(privacy.KindUnsupported, "unsupported-media-type", "send text/csv or application/x-ndjson")
}

func csvLines(body io.Reader, fn func(Line) error) error {
	ll := &lineLimit{r: bufio.NewReaderSize(body, 64<<10)}
	r := csv.NewReader(ll)
	r.ReuseRecord = true
	r.FieldsPerRecord = 0 // every row as wide as the header
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return privacy.Errorf(privacy.KindUnprocessable, "empty-recipient-list", "the list has no recipients")
	}
	if err != nil {
		return csvError(err, 1)
	}
	col := map[string]int{"email": -1, "language": -1, "name": -1, "identifier": -1}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		j, known := col[h]
		if !known {
			return lineError(1, "", "invalid-recipient-header", "the header names a column other than email, language, name, identifier")
		}
		if j >= 0 {
			return lineError(1, "", "invalid-recipient-header", "the header names a column twice")
		}
		col[h] = i
	}
	if col["email"] < 0 {
		return lineError(1, "email", "invalid-recipient-header", "the header has no email column")
	}
	get := func(rec []string, name string) string {
		if i := col[name]; i >= 0 {
			return rec[i]
		}
		return ""
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvError(err, ll.lines+1)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		l := Line{Number: line, Email: get(rec, "email"), Language: get(rec, "language"), Name: get(rec, "name"), Identifier: get(rec, "identifier")}
		if err := fn(l); err != nil {
			return err
		}
	}
}

// csvError turns a CSV reader error into a 4xx naming its line.
func csvError(err error, line int) error {
	if pe, ok := privacy.AsError(err); ok {
		return pe
	}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		if errors.Is(perr.Err, errLineTooLong) {
			return lineError(perr.Line, "", "recipient-line-too-long", "a line is longer than 4096 bytes")
		}
		if pe, ok := privacy.AsError(perr.Err); ok {
			return pe
		}
		if errors.Is(perr.Err, csv.ErrFieldCount) {
			return lineError(perr.Line, "", "invalid-recipient-line", "the line has a different number of fields than the header")
		}
		return lineError(perr.Line, "", "invalid-recipient-line", "the line is not valid CSV")
	}
	if errors.Is(err, errLineTooLong) {
		return lineError(line, "", "recipient-line-too-long", "a line is longer than 4096 bytes")
	}
	return err
}

var errLineTooLong = errors.New("line too long")

// lineLimit fails a read once a line passes maxLineBytes, so one endless line
// cannot fill memory.
type lineLimit struct {
	r     *bufio.Reader
	run   int
	lines int // line ends read so far
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.run = 0
			l.lines++
			continue
		}
		if l.run++; l.run > maxLineBytes {
			return i, errLineTooLong
		}
	}
	return n, err
}

func ndjsonLines(body io.Reader, fn func(Line) error) error {
	br := bufio.NewReaderSize(body, 64<<10)
	for n := 1; ; n++ {
		raw, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			return lineError(n, "", "recipient-line-too-long", "a line is longer than 4096 bytes")
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 {
			var v struct {
				Email      *string `json:"email"`
				Language   string  `json:"language"`
				Name       string  `json:"name"`
				Identifier string  `json:"identifier"`
			}
			dec := json.NewDecoder(bytes.NewReader(t))
			dec.DisallowUnknownFields()
			if derr := dec.Decode(&v); derr != nil || dec.More() {
				return lineError(n, "", "invalid-recipient-line", "the line is not one JSON object of email, language, name, identifier (strings)")
			}
			if v.Email == nil {
				return lineError(n, "email", "invalid-recipient-email", "email is required")
			}
			if ferr := fn(Line{Number: n, Email: *v.Email, Language: v.Language, Name: v.Name, Identifier: v.Identifier}); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine reads one line without its end, at most maxLineBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(bytes.TrimRight(line, "\r\n")) > maxLineBytes {
			return nil, errLineTooLong
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}
