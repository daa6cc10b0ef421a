package sqs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/privops/privops/shared/privacy"
)

// SQS's limits, and the ones chosen here (see the package documentation).
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 << 10 // per message and per batch
	maxDelay        = 900 * time.Second
	maxAttributes   = 10
	maxAttrName     = 256
	maxFIFOID       = 128 // MessageDeduplicationId and MessageGroupId
)

// Message attribute names this package sets.
const (
	// AttrContentType carries OutMessage.ContentType, where
	// shared/lambdahost reads it back.
	AttrContentType = "ContentType"
	// AttrNotBefore carries a NotBefore that SQS could not delay the message
	// to (RFC 3339, UTC).
	AttrNotBefore = "privops-not-before"
)

const stringType = "String"

// entry is one message ready to send. Its SDK entry's Id is "m" and the
// message's position in the Publish call, unique within any batch.
type entry struct {
	id   string // OutMessage.ID
	sdk  types.SendMessageBatchRequestEntry
	size int // the body plus attribute names, types and values, as SQS counts them
}

// newEntries validates msgs, drops repeated ids and maps the rest.
func newEntries(msgs []privacy.OutMessage, now time.Time, fifo bool) ([]entry, error) {
	seen := make(map[string]bool, len(msgs))
	entries := make([]entry, 0, len(msgs))
	for i, m := range msgs {
		if m.ID == "" {
			return nil, fmt.Errorf("message %d has no id", i)
		}
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		e, err := newEntry(i, m, now, fifo)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", m.ID, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func newEntry(i int, m privacy.OutMessage, now time.Time, fifo bool) (entry, error) {
	if len(m.Body) == 0 {
		return entry{}, errors.New("the body is empty (SQS needs at least one character)")
	}
	if err := checkText(m.Body); err != nil {
		return entry{}, fmt.Errorf("the body is not text SQS accepts: %w", err)
	}
	e := entry{id: m.ID, size: len(m.Body), sdk: types.SendMessageBatchRequestEntry{
		Id: aws.String("m" + strconv.Itoa(i)), MessageBody: aws.String(string(m.Body)),
	}}

	attrs := map[string]string{}
	for name, v := range m.Properties {
		if v != "" {
			attrs[name] = v
		}
	}
	if m.ContentType != "" {
		attrs[AttrContentType] = m.ContentType
	}
	if wait := m.NotBefore.Sub(now); !m.NotBefore.IsZero() && wait > 0 {
		if fifo || wait > maxDelay {
			attrs[AttrNotBefore] = m.NotBefore.UTC().Format(time.RFC3339Nano)
		}
		if !fifo {
			e.sdk.DelaySeconds = int32((min(wait, maxDelay) + time.Second - 1) / time.Second)
		}
	}
	if len(attrs) > maxAttributes {
		return entry{}, fmt.Errorf("%d message attributes, over SQS's %d", len(attrs), maxAttributes)
	}
	if len(attrs) > 0 {
		e.sdk.MessageAttributes = make(map[string]types.MessageAttributeValue, len(attrs))
	}
	for name, v := range attrs {
		if err := checkAttrName(name); err != nil {
			return entry{}, err
		}
		if err := checkText([]byte(v)); err != nil {
			return entry{}, fmt.Errorf("the value of attribute %q is not text SQS accepts: %w", name, err)
		}
		e.sdk.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String(stringType), StringValue: aws.String(v)}
		e.size += len(name) + len(stringType) + len(v)
	}
	if e.size > maxBatchBytes {
		return entry{}, fmt.Errorf("%d bytes with its attributes, over the %d a message may have", e.size, maxBatchBytes)
	}

	if fifo {
		id := fifoID(m.ID)
		e.sdk.MessageDeduplicationId, e.sdk.MessageGroupId = aws.String(id), aws.String(id)
	}
	return e, nil
}

// split cuts entries, in order, into batches of at most maxBatchEntries and
// maxBatchBytes.
func split(entries []entry) [][]entry {
	var batches [][]entry
	var current []entry
	size := 0
	for _, e := range entries {
		if len(current) == maxBatchEntries || size+e.size > maxBatchBytes {
			batches, current, size = append(batches, current), nil, 0
		}
		current = append(current, e)
		size += e.size
	}
	if len(current) > 0 {
		batches = append(batches, current)
	}
	return batches
}

func sdkEntries(entries []entry) []types.SendMessageBatchRequestEntry {
	out := make([]types.SendMessageBatchRequestEntry, len(entries))
	for i, e := range entries {
		out[i] = e.sdk
	}
	return out
}

// failure is an entry the service did not accept, and its error code.
type failure struct {
	entry
	code string
}

// results returns the entries of a sent batch to send again: those the
// service failed on its side or throttled, and any it reported nothing about.
// An entry refused as the sender's fault makes it return an error instead
// (no retry would change the answer), with SQS's code and message.
func results(sent []entry, out *awssqs.SendMessageBatchOutput) ([]failure, error) {
	reported := map[string]bool{}
	failedCode := map[string]string{}
	var refused []string
	byID := make(map[string]entry, len(sent))
	for _, e := range sent {
		byID[*e.sdk.Id] = e
	}
	if out != nil {
		for _, s := range out.Successful {
			reported[aws.ToString(s.Id)] = true
		}
		for _, f := range out.Failed {
			id, code := aws.ToString(f.Id), aws.ToString(f.Code)
			e, ok := byID[id]
			if !ok {
				continue
			}
			reported[id] = true
			if f.SenderFault && !retryableCode(code) {
				refused = append(refused, fmt.Sprintf("message %s: %s: %s", e.id, code, aws.ToString(f.Message)))
				continue
			}
			failedCode[id] = code
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("sqs refused %d of %d messages: %s", len(refused), len(sent), strings.Join(refused, "; "))
	}
	var failed []failure
	for _, e := range sent {
		id := *e.sdk.Id
		switch {
		case !reported[id]:
			failed = append(failed, failure{e, "no result"})
		case failedCode[id] != "":
			failed = append(failed, failure{e, failedCode[id]})
		}
	}
	return failed, nil
}

func entriesOf(failed []failure) []entry {
	out := make([]entry, len(failed))
	for i, f := range failed {
		out[i] = f.entry
	}
	return out
}

// describe names up to five failed messages with their codes.
func describe(failed []failure) string {
	const most = 5
	var parts []string
	for i, f := range failed {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(failed)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", f.id, f.code))
	}
	return strings.Join(parts, ", ")
}

// isFIFO reports whether queue, a name or URL, is a FIFO queue.
func isFIFO(queue string) bool { return strings.HasSuffix(queue, ".fifo") }

// fifoID is id as a MessageDeduplicationId and MessageGroupId: itself if SQS
// takes it (at most 128 printable ASCII characters), else "sha256:" and its
// hex SHA-256.
func fifoID(id string) string {
	ok := len(id) <= maxFIFOID
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] > ' ' && id[i] <= '~'
	}
	if ok {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkText reports the first byte of b that is not valid UTF-8 or not a
// character SQS accepts in a body or attribute value (XML's Char production:
// tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF). It never
// quotes b.
func checkText(b []byte) error {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
		default:
			return fmt.Errorf("character U+%04X at byte %d is not allowed", r, i)
		}
		i += n
	}
	return nil
}

// checkAttrName applies SQS's rules for message attribute names: 1 to 256 of
// A–Z, a–z, 0–9, '-', '_' and '.'; no leading, trailing or doubled '.'; not
// starting with "AWS." or "Amazon." in any case.
func checkAttrName(name string) error {
	if name == "" || len(name) > maxAttrName {
		return fmt.Errorf("attribute name of %d bytes: SQS takes 1 to %d", len(name), maxAttrName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("attribute name %q: SQS takes only letters, digits, '-', '_' and '.'", name)
		}
	}
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
		return fmt.Errorf("attribute name %q: SQS takes no leading, trailing or doubled '.'", name)
	case strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon."):
		return fmt.Errorf("attribute name %q: the AWS. and Amazon. prefixes are reserved", name)
	}
	return nil
}
