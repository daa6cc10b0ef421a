package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/privops/privops/shared/privacy"
)

// A service that answered 202 later posts its result to the task's callback
// URL, signed like a call (SignatureHeader, with any of the service's
// secrets). The callback endpoint:
//
//  1. bounds the body (http.MaxBytesReader) and verifies the signature before
//     trusting a byte of it. A small result is read whole and checked with
//     Verify; an export result is copied with VerifyStream into a staging blob
//     while being hashed, because the signature can only be checked at its end;
//  2. parses the verified body: ParseResult for
//
//     {"taskId":"...","outcome":"done|no-data|held","items":N,"reason":"..."}
//
//     and ParseExport (reading the staging blob back) for an export task,
//     whose "items" is the array of exported values, as in a 200 answer:
//
//     {"taskId":"...","outcome":"done","items":[...]}
//
//  3. promotes the staging blob only if both steps succeeded, and otherwise
//     deletes it.
//
// Both parsers refuse unknown fields (a typo must not silently drop a result)
// and return *privacy.Error values of kind KindInvalid, code
// "invalid-callback", whose messages never repeat the body.

// maxReason bounds a callback's reason, as a 409 answer's body is bounded.
const maxReason = 2 << 10

// maxTaskID bounds a callback's task id; privops makes them far shorter.
const maxTaskID = 200

func invalidCallback(format string, args ...any) error {
	return privacy.Errorf(privacy.KindInvalid, "invalid-callback", format, args...)
}

// ParseResult parses the verified body of a callback for any action but
// export. It returns the result and the task id the callback is about, which
// the caller must match against the task it expects. For a lookup task, done
// means the service still holds data (Present) and no-data that it does not.
func ParseResult(body []byte) (privacy.ConnectorResult, string, error) {
	var v struct {
		TaskID  string          `json:"taskId"`
		Outcome privacy.Outcome `json:"outcome"`
		Items   *int            `json:"items"`
		Reason  string          `json:"reason"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return privacy.ConnectorResult{}, "", invalidCallback("body is not a callback result object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return privacy.ConnectorResult{}, "", invalidCallback("body holds more than one JSON value")
	}
	items := 0
	if v.Items != nil {
		items = *v.Items
	}
	return callbackResult(v.TaskID, v.Outcome, items, v.Reason)
}

// ParseExport parses the verified body of an export callback from r (the
// staging blob), counting the exported items without holding them in memory.
// A done outcome needs the "items" array; no-data and held carry none (or an
// empty one). A read error of r is returned wrapped, not as invalid-callback.
func ParseExport(r io.Reader) (privacy.ConnectorResult, string, error) {
	doc, err := scanExport(r, DefaultMaxItemBytes, true)
	switch {
	case errors.Is(err, errMalformedExport):
		return privacy.ConnectorResult{}, "", invalidCallback("body is not an export callback object")
	case errors.Is(err, errValueTooLarge):
		return privacy.ConnectorResult{}, "", invalidCallback("a value is larger than %d bytes", DefaultMaxItemBytes)
	case err != nil:
		return privacy.ConnectorResult{}, "", fmt.Errorf("parse export callback: %w", err)
	}
	if privacy.Outcome(doc.Outcome) == privacy.OutcomeDone && !doc.HasItems {
		return privacy.ConnectorResult{}, "", invalidCallback("a done export needs its items array")
	}
	res, taskID, err := callbackResult(doc.TaskID, privacy.Outcome(doc.Outcome), doc.Items, doc.Reason)
	res.Present = false // an export is not a lookup
	return res, taskID, err
}

// callbackResult checks the fields common to both callback forms.
func callbackResult(taskID string, outcome privacy.Outcome, items int, reason string) (privacy.ConnectorResult, string, error) {
	if taskID == "" || len(taskID) > maxTaskID {
		return privacy.ConnectorResult{}, "", invalidCallback("taskId is required and at most %d bytes", maxTaskID)
	}
	if items < 0 {
		return privacy.ConnectorResult{}, "", invalidCallback("items must not be negative")
	}
	if len(reason) > maxReason {
		return privacy.ConnectorResult{}, "", invalidCallback("reason is at most %d bytes", maxReason)
	}
	switch outcome {
	case privacy.OutcomeDone:
		return privacy.ConnectorResult{Outcome: outcome, Items: items, Present: true}, taskID, nil
	case privacy.OutcomeNoData:
		if items != 0 {
			return privacy.ConnectorResult{}, "", invalidCallback("a no-data outcome has no items")
		}
		return privacy.ConnectorResult{Outcome: outcome}, taskID, nil
	case privacy.OutcomeHeld:
		if items != 0 {
			return privacy.ConnectorResult{}, "", invalidCallback("a held outcome has no items")
		}
		r := cleanReason(reason)
		if r == "" {
			r = DefaultHeldReason
		}
		return privacy.ConnectorResult{Outcome: outcome, Reason: r}, taskID, nil
	}
	return privacy.ConnectorResult{}, "", invalidCallback("outcome must be done, no-data or held")
}
