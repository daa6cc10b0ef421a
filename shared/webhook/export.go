package webhook

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/privops/privops/shared/privacy"
)

// An export document is a JSON object with an "items" array:
//
//	{"items":[ ...one JSON value per item... ]}
//
// The connector streams it from the response into ConnectorCall.Save as it
// arrives and counts the items on the way (exportStream); a callback carries
// the same document with the callback fields beside "items" (ParseExport).
// Memory stays bounded by the largest single value, which maxValue caps.

var (
	errMalformedExport = errors.New("malformed export")
	errValueTooLarge   = errors.New("export value too large")
	errExportTooLarge  = errors.New("export too large")
)

// exportDoc is what a scan found.
type exportDoc struct {
	Items    int
	HasItems bool
	// Callback fields; only scanned when the scan is strict.
	TaskID, Outcome, Reason string
}

// skipValue consumes one JSON value without keeping it: the decoder has already
// checked its syntax while finding its end.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// valueGuard sits between the decoder and its source and refuses to hand it
// more bytes while it buffers more than max bytes of one value: the decoder
// holds each value whole, so this is what bounds memory.
type valueGuard struct {
	r    io.Reader
	dec  *json.Decoder
	read int64
	max  int64
}

func (g *valueGuard) Read(p []byte) (int, error) {
	if g.read-g.dec.InputOffset() > g.max {
		return 0, errValueTooLarge
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// scanExport reads an export document from r to its end, counting the items. It
// accepts any other top-level key (skipped) unless strict, in which case only
// the callback fields taskId, outcome and reason (strings) are allowed besides
// items. Errors: errMalformedExport for anything but one such object followed
// by white space, errValueTooLarge, or r's own error.
func scanExport(r io.Reader, maxValue int64, strict bool) (exportDoc, error) {
	var doc exportDoc
	g := &valueGuard{r: r, max: maxValue}
	dec := json.NewDecoder(g)
	g.dec = dec
	malformed := func(err error) error {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if err == nil || errors.As(err, &syn) || errors.As(err, &typ) || err == io.ErrUnexpectedEOF || err == io.EOF {
			return errMalformedExport
		}
		return err // the reader's own error
	}
	delim := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err)
		}
		if tok != want {
			return errMalformedExport
		}
		return nil
	}
	if err := delim('{'); err != nil {
		return doc, err
	}
	seen := map[string]bool{} // known keys only: unknown ones could be many
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return doc, malformed(err)
		}
		key, _ := tok.(string)
		known := key == "items" || strict && (key == "taskId" || key == "outcome" || key == "reason")
		if known && seen[key] {
			return doc, errMalformedExport
		}
		seen[key] = known
		switch {
		case key == "items":
			if err := delim('['); err != nil {
				return doc, err
			}
			for dec.More() {
				if err := dec.Decode(&skipValue{}); err != nil {
					return doc, malformed(err)
				}
				doc.Items++
			}
			if err := delim(']'); err != nil {
				return doc, err
			}
			doc.HasItems = true
		case strict && (key == "taskId" || key == "outcome" || key == "reason"):
			var s string
			if err := dec.Decode(&s); err != nil {
				return doc, malformed(err)
			}
			switch key {
			case "taskId":
				doc.TaskID = s
			case "outcome":
				doc.Outcome = s
			case "reason":
				doc.Reason = s
			}
		case strict:
			return doc, errMalformedExport
		default:
			if err := dec.Decode(&skipValue{}); err != nil {
				return doc, malformed(err)
			}
		}
	}
	if err := delim('}'); err != nil {
		return doc, err
	}
	// Only white space may follow; reading to EOF also tees every byte out.
	if _, err := dec.Token(); err != io.EOF {
		return doc, malformed(err)
	}
	return doc, nil
}

// exportSource is the connector's view of a 200 export response: it reads the
// body through a byte cap and copies every byte read into the pipe feeding
// Save. It records the first error of each side so the caller can tell a body
// problem from a Save problem from a JSON problem.
type exportSource struct {
	body    io.Reader // io.LimitReader(resp.Body, max+1)
	max     int64
	n       int64
	pipe    *io.PipeWriter
	bodyErr error // a read error of the body, or errExportTooLarge
	pipeErr error // Save stopped reading
}

func (s *exportSource) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	s.n += int64(n)
	if s.n > s.max {
		s.bodyErr = errExportTooLarge
		return 0, s.bodyErr
	}
	if n > 0 {
		if _, werr := s.pipe.Write(p[:n]); werr != nil {
			s.pipeErr = werr
			return 0, werr
		}
	}
	if err != nil && err != io.EOF {
		s.bodyErr = err
	}
	return n, err
}

// exportStream streams body into save while scanning it, as one pass: body →
// cap → tee into a pipe read by save → 32 KiB buffer → value guard → decoder.
// Save sees exactly the service's bytes; if anything goes wrong (the body is
// malformed, too large, cut off) its reader fails instead of ending, so a
// Blobs.Put-style Save never commits a partial export. It returns the item
// count, or an *Error without the action; a failed body read is passed to
// classify.
func exportStream(ctx context.Context, body io.Reader, save func(context.Context, io.Reader) (int64, error),
	maxBytes, maxValue int64, classify func(error) *Error) (int, *Error) {
	pr, pw := io.Pipe()
	saved := make(chan error, 1)
	go func() {
		_, err := save(ctx, pr)
		// Unblock the tee if Save returned before reading everything.
		pr.CloseWithError(errSaveStopped)
		saved <- err
	}()
	// At the deadline, release the tee even if Save has stopped reading.
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	defer stop()
	src := &exportSource{body: io.LimitReader(body, maxBytes+1), max: maxBytes, pipe: pw}
	doc, scanErr := scanExport(bufio.NewReaderSize(src, 32<<10), maxValue, false)
	switch {
	case scanErr == nil && !doc.HasItems:
		scanErr = errMalformedExport
	case scanErr != nil && src.bodyErr != nil:
		scanErr = src.bodyErr // the cause, whatever the decoder made of it
	}
	if scanErr != nil {
		pw.CloseWithError(scanErr)
	} else {
		pw.Close()
	}
	saveErr := <-saved

	switch {
	case src.pipeErr != nil || (scanErr == nil && saveErr != nil):
		if ctx.Err() != nil { // Save ran out of time, or the caller gave up
			return 0, classify(ctx.Err())
		}
		if saveErr == nil {
			return 0, permanent("save", "save stopped reading before the end of the export")
		}
		e := permanent("save", "save export: %v", saveErr)
		e.Temporary = errors.Is(saveErr, privacy.ErrUnavailable)
		e.cause = saveErr
		return 0, e
	case scanErr == nil:
		return doc.Items, nil
	case errors.Is(scanErr, errExportTooLarge):
		return 0, permanent("export-too-large", "export larger than %d bytes", maxBytes)
	case errors.Is(scanErr, errValueTooLarge):
		return 0, permanent("export-item-too-large", "export item larger than %d bytes", maxValue)
	case errors.Is(scanErr, errMalformedExport):
		return 0, permanent("malformed-export", "malformed export")
	}
	return 0, classify(scanErr)
}

// errSaveStopped is what the tee gets once Save has returned.
var errSaveStopped = errors.New("save returned")
