package inbound

import (
	"encoding/json"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

// The contract's rules, one field per JSON Schema property in
// contract/schemas. Patterns are written in the common subset of RE2 and
// ECMA-262, and a test checks each against the schema's text. The data rules
// are those of dsr.Submission.Validate and dsr.Service.CompleteTask, so a
// decoded message never fails them.

// attrNameRe is a CloudEvents attribute name (CloudEvents 1.0 §3.1.1, with the
// recommended 20-character limit).
var attrNameRe = lazy(`^[a-z0-9]{1,20}$`)

// timeRe is an RFC 3339 timestamp with an upper-case T and Z, as Go writes
// it, from the year 1970. It bounds the offset itself: time.Parse accepts
// +24:00 and +23:60, which RFC 3339 does not.
var timeRe = lazy(`^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`)

// emailRe is an ASCII address without a display name; validEmail adds the
// rules a pattern cannot state simply.
var emailRe = lazy("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63})+$")

var envelopeFields = []field{
	{name: "specversion", kind: kindString, required: true, enum: []string{sender.SpecVersion}},
	{name: "id", kind: kindString, required: true, minLen: 1, maxLen: 128, pattern: lazy(`^[!-~]{1,128}$`),
		want: "1-128 printable ASCII characters without spaces"},
	{name: "source", kind: kindString, required: true, minLen: 1, maxLen: 256, format: "uri-reference",
		pattern: lazy(`^[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]{1,256}$`), valid: validSource,
		want: "a URI reference of at most 256 characters"},
	{name: "type", kind: kindString, required: true, enum: sender.Types},
	{name: "time", kind: kindString, required: true, format: "date-time", pattern: timeRe, valid: validTime,
		want: "an RFC 3339 timestamp from 1970 to 9999, such as 2030-01-31T02:00:00Z"},
	{name: "subject", kind: kindString, minLen: 1, maxLen: 128, pattern: lazy(`^[!-~]{1,128}$`),
		want: "1-128 printable ASCII characters without spaces"},
	{name: "datacontenttype", kind: kindString, required: true, enum: []string{sender.DataContentType}},
	{name: "tenantid", kind: kindString, required: true, minLen: 3, maxLen: 40,
		pattern: lazy(`^[a-z][a-z0-9-]{2,39}$`), valid: privacy.ValidTenantID,
		want: "a tenant id: 3-40 of a-z, 0-9 and '-', starting with a letter"},
	{name: "data", kind: kindObject, required: true},
}

var requestedFields = []field{
	{name: "type", kind: kindString, required: true, enum: strs(privacy.RequestTypes)},
	{name: "subject", kind: kindObject, required: true, fields: []field{
		{name: "email", kind: kindString, required: true, maxLen: 254, format: "email", pattern: emailRe, valid: validEmail,
			want: "a plain address such as name@example.com"},
		{name: "country", kind: kindString, required: true, maxLen: 2, pattern: lazy(`^[A-Z]{2}$`),
			want: "an upper-case ISO 3166-1 alpha-2 code"},
		{name: "region", kind: kindString, maxLen: 3, pattern: lazy(`^[A-Z0-9]{1,3}$`),
			want: "an upper-case ISO 3166-2 subdivision code such as CA"},
		{name: "userId", kind: kindString, maxLen: 128, pattern: lazy(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$`),
			want: "1-128 of letters, digits and _ . : @ -, starting with a letter or digit"},
		{name: "phone", kind: kindString, maxLen: 16, pattern: lazy(`^\+[1-9][0-9]{6,14}$`),
			want: "in E.164 form, such as +4915123456789"},
	}},
	{name: "categories", kind: kindArray, maxItems: len(privacy.Categories), unique: true,
		items: &field{kind: kindString, enum: strs(privacy.Categories)}},
	{name: "changes", kind: kindArray, maxItems: 50, items: &field{kind: kindObject, fields: []field{
		{name: "field", kind: kindString, required: true, maxLen: 64, pattern: lazy(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`),
			want: "a field name: letters, digits, _ . -, starting with a letter"},
		{name: "value", kind: kindString, required: true, maxLen: 1000},
	}}},
	{name: "purposes", kind: kindArray, maxItems: 10, unique: true, items: &field{kind: kindString, maxLen: 40,
		pattern: lazy(`^[a-z][a-z0-9-]{0,39}$`), want: "1-40 of a-z, 0-9 and '-', starting with a letter"}},
	{name: "details", kind: kindString, maxLen: 4000},
	{name: "externalRef", kind: kindString, minLen: 1, maxLen: 128, pattern: lazy(`^[ -~]{1,128}$`),
		want: "1-128 printable ASCII characters"},
}

var (
	requestIDField = field{name: "requestId", kind: kindString, required: true, maxLen: 128,
		pattern: lazy(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`), want: "a privops request id"}
	taskIDField = field{name: "taskId", kind: kindString, required: true, maxLen: 200,
		pattern: lazy(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$`), want: "a privops task id"}
)

// maxItems bounds a completed task's item count, as dsr.CompleteTask does.
const maxItems = 1 << 40

var completedFields = []field{
	requestIDField,
	taskIDField,
	{name: "outcome", kind: kindString, required: true, enum: []string{string(privacy.OutcomeDone), string(privacy.OutcomeNoData), string(privacy.OutcomeHeld)}},
	{name: "items", kind: kindInteger, min: 0, max: maxItems},
	{name: "reason", kind: kindString, minLen: 1, maxLen: 2000},
	{name: "note", kind: kindString, maxLen: 2000},
}

var failedFields = []field{
	requestIDField,
	taskIDField,
	{name: "reason", kind: kindString, required: true, minLen: 1, maxLen: 500},
	{name: "permanent", kind: kindBoolean, required: true},
}

var purgeCompletedFields = []field{
	{name: "runId", kind: kindString, required: true, maxLen: 64, pattern: lazy(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`),
		want: "the command's runId"},
	{name: "policyId", kind: kindString, required: true, minLen: 3, maxLen: 40, pattern: lazy(`^[a-z][a-z0-9-]{2,39}$`),
		want: "the command's policyId"},
	{name: "dryRun", kind: kindBoolean, required: true},
	{name: "outcome", kind: kindString, required: true, enum: sender.PurgeOutcomes},
	{name: "purged", kind: kindInteger, required: true, min: 0, max: maxItems},
	{name: "kept", kind: kindInteger, required: true, min: 0, max: maxItems},
	{name: "keptByHold", kind: kindInteger, required: true, min: 0, max: maxItems},
}

// breachText is a free-text member of a breach report.
func breachText(name string, required bool, max int) field {
	f := field{name: name, kind: kindString, required: required, maxLen: max}
	if required {
		f.minLen = 1
	}
	return f
}

var breachFields = []field{
	{name: "detectedAt", kind: kindString, required: true, format: "date-time", pattern: timeRe, valid: validTime,
		want: "an RFC 3339 timestamp from 1970 to 9999, such as 2030-01-31T02:00:00Z"},
	{name: "awareAt", kind: kindString, required: true, format: "date-time", pattern: timeRe, valid: validTime,
		want: "an RFC 3339 timestamp from 1970 to 9999, such as 2030-01-31T02:00:00Z"},
	{name: "determinedAt", kind: kindString, format: "date-time", pattern: timeRe, valid: validTime,
		want: "an RFC 3339 timestamp from 1970 to 9999, such as 2030-01-31T02:00:00Z"},
	{name: "jurisdictions", kind: kindArray, required: true, maxItems: len(breach.Jurisdictions), unique: true,
		items: &field{kind: kindString, enum: breach.Jurisdictions}},
	{name: "grade", kind: kindString, enum: []string{breach.GradeGeneral, breach.GradeRelativelyMajor, breach.GradeMajor, breach.GradeEspeciallyMajor}},
	breachText("title", true, 200),
	breachText("nature", true, 4000),
	{name: "categories", kind: kindArray, required: true, maxItems: 50, items: &field{kind: kindString, minLen: 1, maxLen: 100}},
	{name: "subjectGroups", kind: kindArray, maxItems: 50, items: &field{kind: kindString, minLen: 1, maxLen: 100}},
	{name: "subjectsApprox", kind: kindInteger, required: true, min: 0, max: maxItems},
	{name: "recordsApprox", kind: kindInteger, required: true, min: 0, max: maxItems},
	breachText("consequences", true, 4000),
	breachText("measures", true, 4000),
	breachText("contact", true, 500),
	{name: "risk", kind: kindString, required: true, enum: []string{breach.RiskNone, breach.RiskLow, breach.RiskHigh}},
	breachText("cause", false, 4000),
	{name: "residents", kind: kindObject, fields: []field{
		{name: "us-ca", kind: kindInteger, min: 0, max: maxItems}, {name: "us-tx", kind: kindInteger, min: 0, max: maxItems},
		{name: "us-ny", kind: kindInteger, min: 0, max: maxItems}, {name: "us-fl", kind: kindInteger, min: 0, max: maxItems},
		{name: "us-co", kind: kindInteger, min: 0, max: maxItems}}},
}

// envelope is a well-formed body's top-level members, not yet checked.
type envelope map[string]json.RawMessage

func parseEnvelope(body []byte) (envelope, error) {
	if err := wellFormed(body); err != nil {
		return nil, err
	}
	var e envelope
	if json.Unmarshal(body, &e) != nil {
		return nil, refuse(CodeMalformed, "the body is not a JSON object")
	}
	return e, nil
}

// tenantID returns the checked tenantid, the one member read before the
// signature is verified (it says whose key to verify with).
func (e envelope) tenantID() (string, error) {
	f := &envelopeFields[slices.IndexFunc(envelopeFields, func(f field) bool { return f.name == "tenantid" })]
	raw, ok := e["tenantid"]
	if !ok {
		return "", schemaErr("tenantid", "is required")
	}
	if err := f.check("tenantid", raw); err != nil {
		return "", err
	}
	var id string
	_ = json.Unmarshal(raw, &id) // checked above
	return id, nil
}

// message checks the envelope and its data, and decodes them.
func (e envelope) message() (*Message, error) {
	if v, ok := e.str("specversion"); ok && v != sender.SpecVersion {
		return nil, refuse(CodeUnsupportedSpecVersion, "specversion must be "+sender.SpecVersion)
	}
	if v, ok := e.str("type"); ok && !slices.Contains(sender.Types, v) {
		return nil, refuse(CodeUnknownType, "type must be one of "+strings.Join(sender.Types, ", "))
	}
	if err := checkEnvelope(e); err != nil {
		return nil, err
	}
	// Every attribute read below was checked above.
	id, _ := e.str("id")
	source, _ := e.str("source")
	typ, _ := e.str("type")
	ts, _ := e.str("time")
	subject, _ := e.str("subject")
	t, _ := time.Parse(time.RFC3339Nano, ts)
	m := &Message{ID: id, Source: source, Type: typ, Time: t.UTC(), Subject: subject}
	var err error
	switch typ {
	case sender.TypeDSRRequested:
		m.Requested, err = decodeRequested(e["data"])
	case sender.TypeTaskCompleted:
		m.TaskCompleted, err = decodeCompleted(e["data"])
	case sender.TypeTaskFailed:
		m.TaskFailed, err = decodeFailed(e["data"])
	case sender.TypeBreachReported:
		m.BreachReported, err = decodeBreach(e["data"])
	case sender.TypePurgeCompleted:
		m.PurgeCompleted, err = decodePurgeCompleted(e["data"])
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// str returns the attribute name if it is present and a string.
func (e envelope) str(name string) (string, bool) {
	raw, ok := e[name]
	if k, _ := kindOf(raw); !ok || k != kindString {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// checkEnvelope checks every attribute: the known ones against
// envelopeFields, the others as extension attributes, which are ignored.
func checkEnvelope(e envelope) error {
	for name := range e {
		if !attrNameRe.MatchString(name) {
			return refuse(CodeSchema, "the envelope has a member whose name is not a CloudEvents attribute name (1-20 of a-z and 0-9)")
		}
	}
	known := make(map[string]json.RawMessage, len(e))
	for name, raw := range e {
		if slices.ContainsFunc(envelopeFields, func(f field) bool { return f.name == name }) {
			known[name] = raw
			continue
		}
		if k, ok := kindOf(raw); !ok || k != kindString && k != kindInteger && k != kindBoolean {
			return refuse(CodeSchema, "an extension attribute must be a string, a number or a boolean")
		}
	}
	return checkObject("", envelopeFields, known)
}

func decodeRequested(raw json.RawMessage) (*Requested, error) {
	m, err := dataObject(raw, requestedFields)
	if err != nil {
		return nil, err
	}
	var r Requested
	if json.Unmarshal(raw, &r) != nil {
		return nil, refuse(CodeSchema, "data cannot be decoded") // unreachable: checked above
	}
	_, hasChanges := m["changes"]
	_, hasPurposes := m["purposes"]
	switch {
	case r.Type == privacy.TypeRectify && len(r.Changes) == 0:
		return nil, schemaErr("data.changes", "is required, with at least one change, for a rectify request")
	case r.Type != privacy.TypeRectify && hasChanges:
		return nil, schemaErr("data.changes", "is only allowed with a rectify request")
	case hasPurposes && r.Type != privacy.TypeRestrict && r.Type != privacy.TypeLiftRestriction && r.Type != privacy.TypeObject:
		return nil, schemaErr("data.purposes", "is only allowed with restrict, lift-restriction and object requests")
	}
	for _, c := range r.Categories {
		if r.Type.Supports(c) != nil {
			return nil, schemaErr("data.categories", "may not include system-logs with rectify, restrict and lift-restriction: system-generated logs support access, export and erase only")
		}
	}
	// Empty lists mean "none given", as when absent.
	if len(r.Categories) == 0 {
		r.Categories = nil
	}
	if len(r.Purposes) == 0 {
		r.Purposes = nil
	}
	return &r, nil
}

func decodeCompleted(raw json.RawMessage) (*TaskCompleted, error) {
	m, err := dataObject(raw, completedFields)
	if err != nil {
		return nil, err
	}
	var c TaskCompleted
	if json.Unmarshal(raw, &c) != nil {
		return nil, refuse(CodeSchema, "data cannot be decoded") // unreachable: checked above
	}
	_, hasReason := m["reason"]
	switch {
	case c.Outcome != privacy.OutcomeDone && c.Items != 0:
		return nil, schemaErr("data.items", "must be 0 for a no-data or held outcome")
	case c.Outcome == privacy.OutcomeHeld && !hasReason:
		return nil, schemaErr("data.reason", "is required for a held outcome")
	case c.Outcome != privacy.OutcomeHeld && hasReason:
		return nil, schemaErr("data.reason", "is only allowed with a held outcome")
	}
	return &c, nil
}

func decodeFailed(raw json.RawMessage) (*TaskFailed, error) {
	if _, err := dataObject(raw, failedFields); err != nil {
		return nil, err
	}
	var f TaskFailed
	if json.Unmarshal(raw, &f) != nil {
		return nil, refuse(CodeSchema, "data cannot be decoded") // unreachable: checked above
	}
	return &f, nil
}

func decodePurgeCompleted(raw json.RawMessage) (*PurgeCompleted, error) {
	if _, err := dataObject(raw, purgeCompletedFields); err != nil {
		return nil, err
	}
	var p PurgeCompleted
	if json.Unmarshal(raw, &p) != nil {
		return nil, refuse(CodeSchema, "data cannot be decoded") // unreachable: checked above
	}
	if p.Outcome == sender.PurgeNotSupported && (p.Purged != 0 || p.Kept != 0 || p.KeptByHold != 0) {
		return nil, schemaErr("data.purged", "a not-supported answer counts nothing: purged, kept and keptByHold must be 0")
	}
	return &p, nil
}

func decodeBreach(raw json.RawMessage) (*BreachReported, error) {
	if _, err := dataObject(raw, breachFields); err != nil {
		return nil, err
	}
	var b BreachReported
	if json.Unmarshal(raw, &b) != nil {
		return nil, refuse(CodeSchema, "data cannot be decoded") // unreachable: checked above
	}
	switch {
	case b.AwareAt.Before(b.DetectedAt):
		return nil, schemaErr("data.awareAt", "cannot be before data.detectedAt")
	case slices.Contains(b.Jurisdictions, "cn") && b.Grade == "":
		return nil, schemaErr("data.grade", "is required when data.jurisdictions names cn (the CAC grade)")
	case len(b.Categories) == 0:
		return nil, schemaErr("data.categories", "needs at least one category")
	}
	b.DetectedAt, b.AwareAt, b.DeterminedAt = b.DetectedAt.UTC(), b.AwareAt.UTC(), b.DeterminedAt.UTC()
	// Empty lists mean "none given", as when absent.
	if len(b.SubjectGroups) == 0 {
		b.SubjectGroups = nil
	}
	if len(b.Residents) == 0 {
		b.Residents = nil
	}
	return &b, nil
}

// dataObject checks data against fields and returns its members.
func dataObject(raw json.RawMessage, fields []field) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, schemaErr("data", "must be an object") // unreachable: checked above
	}
	if err := checkObject("data", fields, m); err != nil {
		return nil, err
	}
	return m, nil
}

// validSource reports whether s parses as a URI reference; an IPv6 host must
// be a bracketed address without a zone.
func validSource(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if h := u.Hostname(); strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6() && a.Zone() == "" && strings.Contains(u.Host, "[")
	}
	return true
}

// validTime reports whether s is a timestamp whose UTC year is 1970 to 9999,
// so that it can be written again as RFC 3339 in UTC.
func validTime(s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && t.UTC().Year() >= 1970 && t.UTC().Year() <= 9999
}

// validEmail adds to the pattern what dsr.Submission.Validate and the JSON
// Schema email format check: a dot-atom local part, hostname labels, and an
// address net/mail reads back unchanged.
func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") || len(domain) > 253 {
		return false
	}
	for label := range strings.SplitSeq(domain, ".") {
		if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
