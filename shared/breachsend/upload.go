package breachsend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

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

// Upload replaces the recipient list of an incident with the one in body,
// streamed: each line is validated, keyed and written in chunks, duplicates
// (by normalised address) are counted and skipped, and the whole list becomes
// the campaign's in one campaign write at the end. Until then the list is
// staged (the watch purges it if the upload never ends), and any error
// deletes it: bad input changes nothing. A started campaign's list cannot be
// replaced (409 campaign-started).
func (s *Service) Upload(ctx context.Context, tenantID, incidentID, contentType string, body io.Reader, actor string) (*Campaign, error) {
	if _, err := s.notice(ctx, tenantID, incidentID); err != nil {
		return nil, err
	}
	c, err := s.campaignOrNew(ctx, tenantID, incidentID)
	if err != nil {
		return nil, err
	}
	if c.State != StateReady && c.State != "" {
		return nil, errStarted()
	}
	now := s.d.Now().UTC()
	listID := "lst_" + s.d.NewID()
	if err := s.d.Store.StageList(ctx, tenantID, incidentID, listID, now.Add(stagedKeep)); err != nil {
		return nil, err
	}
	total, lines, err := s.stream(ctx, tenantID, incidentID, listID, contentType, body)
	if err == nil {
		c, err = s.commitList(ctx, c, listID, total, lines-total, now)
	}
	if err != nil {
		// Nothing of a failed upload stays; the staged record lets the watch
		// finish if this is cut short.
		bg := context.WithoutCancel(ctx)
		derr := s.deleteList(bg, tenantID, incidentID, listID)
		if derr == nil {
			derr = s.d.Store.UnstageList(bg, tenantID, incidentID, listID)
		}
		if derr != nil {
			s.d.Logger.WarnContext(ctx, "delete a failed upload's rows; the watch purges them", "tenant_id", tenantID, "error", derr.Error())
		}
		return nil, err
	}
	if err := s.audit(ctx, tenantID, "breachsend-upload-"+listID, actor, "breach.recipients.uploaded", incidentID,
		map[string]string{"list": listID, "recipients": strconv.FormatInt(total, 10), "duplicates": strconv.FormatInt(c.Duplicates, 10)}); err != nil {
		return nil, fmt.Errorf("audit the upload: %w", err)
	}
	return c, nil
}

// stream parses body into list, returning the recipients stored and the
// lines read.
func (s *Service) stream(ctx context.Context, tenantID, incidentID, listID, contentType string, body io.Reader) (total, lines int64, err error) {
	lim := &byteLimit{r: body, left: s.cfg.MaxBytes}
	next := int64(1)
	buf := make([]Recipient, 0, chunk)
	// One chunk is written while the next is parsed: at most two chunks
	// (10,000 recipients) are in memory.
	var inflight chan error
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		if err == nil && next-1 > s.cfg.MaxCount {
			err = privacy.Errorf(privacy.KindTooLarge, "too-many-recipients", "the list has more than %d recipients (BREACH_RECIPIENTS_MAX)", s.cfg.MaxCount)
		}
		return err
	}
	flush := func() error {
		if err := wait(); err != nil || len(buf) == 0 {
			return err
		}
		rs := buf
		buf = make([]Recipient, 0, chunk)
		done := make(chan error, 1)
		inflight = done
		go func() {
			n, err := s.d.Store.AddRecipients(ctx, tenantID, incidentID, listID, next, rs)
			if err != nil {
				done <- fmt.Errorf("store recipients: %w", err)
				return
			}
			next = n // read by wait, after the channel receive
			done <- nil
		}()
		return nil
	}
	err = Lines(contentType, lim, func(l Line) error {
		if err := l.Validate(); err != nil {
			return err
		}
		lines++
		buf = append(buf, Recipient{Key: s.recipientKey(tenantID, l.Email), Email: l.Email, Language: l.Language, Name: l.Name, Identifier: l.Identifier})
		if len(buf) == chunk {
			return flush()
		}
		return nil
	})
	if errors.Is(err, errTooLarge) {
		err = privacy.Errorf(privacy.KindTooLarge, "recipient-list-too-large", "the list is larger than %d bytes (BREACH_RECIPIENTS_MAX_BYTES)", s.cfg.MaxBytes)
	}
	if err == nil {
		err = flush()
	}
	if werr := wait(); err == nil {
		err = werr
	}
	if err == nil && next == 1 {
		err = privacy.Errorf(privacy.KindUnprocessable, "empty-recipient-list", "the list has no recipients")
	}
	return next - 1, lines, err
}

var errTooLarge = errors.New("body too large")

// byteLimit fails a read past left bytes.
type byteLimit struct {
	r    io.Reader
	left int64
}

func (b *byteLimit) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
	}
	if int64(len(p)) > b.left {
		p = p[:max(b.left, 1)]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errTooLarge
	}
	return n, err
}

// commitList makes listID the campaign's list in one ETag-guarded write. The
// list it replaces is staged for purging before the write and deleted after.
func (s *Service) commitList(ctx context.Context, c *Campaign, listID string, total, dups int64, now time.Time) (*Campaign, error) {
	for range 5 {
		if c.State != StateReady && c.State != "" {
			return nil, errStarted()
		}
		old := c.ListID
		if old != "" {
			if err := s.d.Store.StageList(ctx, c.TenantID, c.IncidentID, old, now); err != nil {
				return nil, err
			}
		}
		c.State, c.ListID, c.Total, c.Duplicates, c.UploadedAt = StateReady, listID, total, dups, now
		c.ExpiresAt = now.Add(s.cfg.Keep)
		err := s.d.Store.PutCampaign(ctx, c)
		if err == nil {
			if err := s.d.Store.UnstageList(ctx, c.TenantID, c.IncidentID, listID); err != nil {
				s.d.Logger.WarnContext(ctx, "unstage a committed list; the watch does", "tenant_id", c.TenantID, "error", err.Error())
			}
			if old != "" {
				if _, err := s.purgeStaged(ctx, c.TenantID, c.IncidentID, old); err != nil {
					s.d.Logger.WarnContext(ctx, "delete a replaced list; the watch purges it", "tenant_id", c.TenantID, "error", err.Error())
				}
			}
			return s.d.Store.GetCampaign(ctx, c.TenantID, c.IncidentID)
		}
		if !errors.Is(err, privacy.ErrConflict) {
			return nil, err
		}
		if c, err = s.d.Store.GetCampaign(ctx, c.TenantID, c.IncidentID); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("commit the recipient list: %w", privacy.ErrConflict)
}

func errStarted() error {
	return privacy.Errorf(privacy.KindConflict, "campaign-started", "the subject notification of this incident has started; its list cannot change")
}
