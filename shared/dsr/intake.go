package dsr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// Submission is what a data subject (or an admin on their behalf) submits.
type Submission struct {
	Type       privacy.RequestType   `json:"type"`
	Email      string                `json:"email"`
	Country    string                `json:"country"`
	Region     string                `json:"region,omitempty"`
	Categories []privacy.Category    `json:"categories,omitempty"`
	Changes    []privacy.FieldChange `json:"changes,omitempty"`
	// Purposes name what a restriction, its lifting or an objection covers
	// ("marketing", "analytics", ...); empty means every purpose.
	Purposes []string `json:"purposes,omitempty"`
	// UserID and Phone are further identifiers some services key data by.
	UserID string `json:"userId,omitempty"`
	Phone  string `json:"phone,omitempty"`
	// Details is a note for the tenant's admins; ExternalRef the sending
	// system's own reference (a ticket number). Both from Service Bus intake.
	Details     string `json:"details,omitempty"`
	ExternalRef string `json:"externalRef,omitempty"`
	// Language is the language the subject is answered in: en or zh-Hans
	// ("": English; the portal fills it from Accept-Language).
	Language string `json:"language,omitempty"`
}

// Actor says who acts: the subject, an admin, or a tenant's own system.
type Actor struct {
	Admin string // the admin's subject claim; "" for the data subject
	// System is a tenant's system that sent a signed message (its CloudEvents
	// source): it acts for the tenant, as an admin does.
	System string
	// Operator is the operator's caller (an operator token's subject, or the
	// CLI's "operator-cli:<user>"): it acts on tenants, never on requests.
	Operator string
}

func (a Actor) String() string {
	switch {
	case a.Operator != "":
		return "operator:" + a.Operator
	case a.System != "":
		return "system:" + a.System
	case a.Admin != "":
		return "admin:" + a.Admin
	}
	return "subject"
}

// onBehalf reports whether the tenant (an admin or its system) submits for the
// subject, which skips the subject's email verification.
func (a Actor) onBehalf() bool { return a.Admin != "" || a.System != "" }

// The submission patterns are compiled on first use, not when the binary
// starts: their counted repetitions compile into long programs, about 0.3 MB
// at every start whether or not a submission arrives (issue 16, cold start).
var (
	regionRe  = lazyRegexp(`^[A-Z0-9]{1,3}$`)
	fieldRe   = lazyRegexp(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
	purposeRe = lazyRegexp(`^[a-z][a-z0-9-]{0,39}$`)
	phoneRe   = lazyRegexp(`^\+[1-9][0-9]{6,14}$`)
	userIDRe  = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$`)
	// externalRefRe: printable ASCII, as the inbound contract says.
	externalRefRe = lazyRegexp(`^[\x20-\x7e]{1,128}$`)
)

// lazyRegexp returns a function that compiles expr once, on its first call.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Validate checks a submission and normalises it. Error messages never echo the
// submitted values.
func (sub *Submission) Validate() error {
	if !sub.Type.Valid() {
		return privacy.Errorf(privacy.KindInvalid, "invalid-type", "type must be one of access, export, erase, rectify, restrict, lift-restriction, object")
	}
	sub.Email = strings.TrimSpace(sub.Email)
	if len(sub.Email) > 254 {
		return privacy.Errorf(privacy.KindInvalid, "invalid-email", "email must be at most 254 characters")
	}
	if a, err := mail.ParseAddress(sub.Email); err != nil || a.Name != "" || a.Address != sub.Email || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@'):], ".") {
		return privacy.Errorf(privacy.KindInvalid, "invalid-email", "email must be a plain address such as name@example.com")
	}
	sub.Country, sub.Region = strings.ToUpper(strings.TrimSpace(sub.Country)), strings.ToUpper(strings.TrimSpace(sub.Region))
	if !privacy.ValidCountry(sub.Country) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-country", "country must be an assigned ISO 3166-1 alpha-2 code (GB for the United Kingdom, GR for Greece)")
	}
	if sub.Region != "" && !regionRe().MatchString(sub.Region) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-region", "region must be an ISO 3166-2 subdivision code such as CA")
	}
	if len(sub.Categories) > len(privacy.Categories) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-category", "too many categories")
	}
	for _, c := range sub.Categories {
		if err := sub.Type.Supports(c); err != nil {
			return err
		}
	}
	slices.Sort(sub.Categories)
	sub.Categories = slices.Compact(sub.Categories)
	switch {
	case sub.Type == privacy.TypeRectify && len(sub.Changes) == 0:
		return privacy.Errorf(privacy.KindInvalid, "changes-required", "a rectify request needs at least one change")
	case sub.Type != privacy.TypeRectify && len(sub.Changes) > 0:
		return privacy.Errorf(privacy.KindInvalid, "unexpected-changes", "changes are only accepted with a rectify request")
	case len(sub.Changes) > 50:
		return privacy.Errorf(privacy.KindInvalid, "too-many-changes", "at most 50 changes per request")
	}
	switch sub.Type {
	case privacy.TypeRestrict, privacy.TypeLiftRestriction, privacy.TypeObject:
	default:
		if len(sub.Purposes) > 0 {
			return privacy.Errorf(privacy.KindInvalid, "unexpected-purposes", "purposes are only accepted with restrict, lift-restriction and object requests")
		}
	}
	if len(sub.Purposes) > 10 {
		return privacy.Errorf(privacy.KindInvalid, "invalid-purpose", "at most 10 purposes")
	}
	for _, p := range sub.Purposes {
		if !purposeRe().MatchString(p) {
			return privacy.Errorf(privacy.KindInvalid, "invalid-purpose", "each purpose is 1-40 of a-z, 0-9 and '-', starting with a letter")
		}
	}
	if sub.Phone != "" && !phoneRe().MatchString(sub.Phone) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-phone", "phone must be in E.164 form, such as +4915123456789")
	}
	if sub.UserID != "" && !userIDRe().MatchString(sub.UserID) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-user-id", "userId must be 1-128 of letters, digits and _ . : @ -")
	}
	if len(sub.Details) > 4000 || !utf8.ValidString(sub.Details) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-details", "details must be valid text of at most 4000 bytes")
	}
	if sub.ExternalRef != "" && !externalRefRe().MatchString(sub.ExternalRef) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-external-ref", "externalRef must be 1-128 printable ASCII characters")
	}
	if _, ok := privacy.CanonicalLanguage(sub.Language); sub.Language != "" && !ok {
		return privacy.Errorf(privacy.KindInvalid, "invalid-language", "language must be one of en, zh-Hans (or zh, zh-CN, zh-SG)")
	}
	for _, c := range sub.Changes {
		if !fieldRe().MatchString(c.Field) || !utf8.ValidString(c.Value) || len(c.Value) > 1000 {
			return privacy.Errorf(privacy.KindInvalid, "invalid-change", "each change needs a field name (letters, digits, _ . -) and a value of at most 1000 bytes")
		}
	}
	return nil
}

// Submitted is the result of a submission.
type Submitted struct {
	Request *privacy.Request
	Token   string // the request token for the subject's status page
	Replay  bool   // an earlier submission with the same idempotency key
}

// Submit records a new request. From the portal (actor.Admin == "") it mails a
// one-time code and waits for it; on behalf of a subject (an admin actor) the
// verification is skipped and the admin is recorded. With an idempotency key, a
// retried submission returns the first one; the key reused for a different
// body is refused.
func (s *Service) Submit(ctx context.Context, tenantID string, sub Submission, idemKey string, actor Actor) (*Submitted, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if t.Suspended() || t.IsOffboarding() {
		// Every door of a new request (portal, admin on behalf, the inbound
		// queue, where it is rejected with this code, never retried) ends here;
		// but a retry of a submission received before the suspension is no
		// new request: it gets the first one, as for an active tenant.
		if prev := s.received(ctx, t.ID, sub, idemKey, actor); prev != nil {
			return prev, nil
		}
		if t.IsOffboarding() {
			return nil, ErrTenantOffboarding
		}
		return nil, ErrTenantSuspended
	}
	if l, ok := privacy.CanonicalLanguage(sub.Language); ok {
		sub.Language = l // zh-CN is stored as zh-Hans, en-GB as en
	}
	if err := sub.Validate(); err != nil {
		return nil, err
	}
	if len(idemKey) > 200 {
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-idempotency-key", "Idempotency-Key must be at most 200 characters")
	}
	now := s.now()
	bodyHash := submissionHash(sub)
	r := &privacy.Request{
		ID: newID("dsr_"), TenantID: t.ID, Type: sub.Type, Status: privacy.StatusAwaitingVerification,
		Channel:     privacy.ChannelPortal,
		Subject:     privacy.Subject{Email: sub.Email, Country: sub.Country, Region: sub.Region, UserID: sub.UserID, Phone: sub.Phone},
		SubjectHash: s.hasher.Hash(t.ID, sub.Email), Categories: sub.Categories, Changes: sub.Changes,
		Purposes: sub.Purposes, Details: sub.Details, ExternalRef: sub.ExternalRef, Language: sub.Language,
		BodyHash:   hex.EncodeToString(bodyHash[:]),
		ReceivedAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if idemKey != "" {
		// A deterministic id makes the create itself the duplicate check.
		r.ID = s.idempotentID(t.ID, actor.String(), idemKey)
		r.IdempotencyKeyHash = hex.EncodeToString(s.mac("idempotency-key", idemKey)[:16])
	}
	var code string
	if actor.onBehalf() {
		r.Channel, r.SubmittedBy = privacy.ChannelAdmin, actor.Admin
		if actor.System != "" {
			r.Channel, r.SubmittedBy = privacy.ChannelServiceBus, actor.String()
		}
		r.Status, r.IdentityVerifiedAt = privacy.StatusAwaitingDecision, now
	} else {
		code = newCode()
		r.Verification = privacy.Verification{CodeHash: s.codeHash(t.ID, r.ID, code), ExpiresAt: now.Add(s.cfg.CodeTTL), Sends: 1}
		r.WakeAt = now.Add(s.cfg.UnverifiedExpiry) // the watch ends it if no code is ever entered
	}
	if err := s.schedule(t, r, now); err != nil {
		return nil, err
	}
	s.audit(r, now, actor.String(), "request.submitted", map[string]string{"type": string(r.Type), "channel": string(r.Channel), "dueRegime": r.Due.Regime})
	if actor.onBehalf() {
		if err := s.notice(r, now, privacy.NoticeVerified); err != nil {
			return nil, err
		}
	}
	if idemKey != "" {
		// A submission first made before per-purpose keys has its legacy id.
		legacy := *r
		legacy.ID = s.legacyIdempotentID(t.ID, actor.String(), idemKey)
		if _, err := s.d.Store.GetRequest(ctx, t.ID, legacy.ID); err == nil {
			return s.replay(ctx, t.ID, &legacy)
		} else if !errors.Is(err, privacy.ErrNotFound) {
			return nil, fmt.Errorf("get request: %w", err)
		}
	}
	// While the mail spool runs, the code mail is stored with the request
	// and sent after the answer (spool.go); else it is sent before it.
	sp, spStore := s.spooling()
	var codeMail privacy.Mail
	create := func() error { return s.createRequest(ctx, r) }
	if code != "" && sp != nil {
		codeMail = s.codeMail(t, r, code)
		create = func() error { return s.createRequestSpooling(ctx, spStore, r, codeMail) }
	}
	if err := create(); err != nil {
		if errors.Is(err, privacy.ErrConflict) && idemKey != "" {
			return s.replay(ctx, t.ID, r)
		}
		return nil, fmt.Errorf("create request: %w", err)
	}
	s.d.Step("request-created")
	s.flushQuietly(ctx, r)
	switch {
	case code != "" && sp != nil:
		s.enqueue(ctx, sp, codeMail)
	case code != "":
		if err := s.mailCode(ctx, t, r, code); err != nil {
			return nil, err
		}
	}
	return &Submitted{Request: r, Token: s.Token(t.ID, r.ID)}, nil
}

// submissionHash identifies a submission's body, to tell a retry from another
// submission reusing its idempotency key.
func submissionHash(sub Submission) [sha256.Size]byte {
	body, _ := json.Marshal(sub)
	return sha256.Sum256(body)
}

// received returns the request an earlier submission with the same
// idempotency key and body created, or nil if there is none.
func (s *Service) received(ctx context.Context, tenantID string, sub Submission, idemKey string, actor Actor) *Submitted {
	if idemKey == "" || len(idemKey) > 200 {
		return nil
	}
	h := submissionHash(sub)
	// The id it got, or the one it got before per-purpose keys.
	for _, id := range []string{s.idempotentID(tenantID, actor.String(), idemKey), s.legacyIdempotentID(tenantID, actor.String(), idemKey)} {
		if got, err := s.replay(ctx, tenantID, &privacy.Request{ID: id, BodyHash: hex.EncodeToString(h[:])}); err == nil {
			return got
		}
	}
	return nil
}

// replay answers a retried submission with the request it created.
func (s *Service) replay(ctx context.Context, tenantID string, want *privacy.Request) (*Submitted, error) {
	got, err := s.request(ctx, tenantID, want.ID)
	if err != nil {
		return nil, err
	}
	if got.BodyHash != want.BodyHash {
		return nil, privacy.Errorf(privacy.KindConflict, "idempotency-key-reused", "this Idempotency-Key was used for a different request")
	}
	return &Submitted{Request: got, Token: s.Token(tenantID, got.ID), Replay: true}, nil
}

// mailCode sends the one-time code. The code exists only in this mail (and,
// sealed, in the mail spool until it is sent).
func (s *Service) mailCode(ctx context.Context, t *privacy.Tenant, r *privacy.Request, code string) error {
	if err := s.d.Mailer.Send(ctx, s.codeMail(t, r, code)); err != nil {
		s.d.Logger.WarnContext(ctx, "verification mail not sent", "tenant_id", r.TenantID, "request_id", r.ID, "error", err.Error())
		return privacy.Errorf(privacy.KindUnavailable, "mail-unavailable", "the verification code could not be mailed; ask for a new code in a few minutes")
	}
	return nil
}

// codeMail is the mail of r's current one-time code.
func (s *Service) codeMail(t *privacy.Tenant, r *privacy.Request, code string) privacy.Mail {
	m := privacy.Mail{
		ID:      fmt.Sprintf("%s-code-%d", r.ID, r.Verification.Sends),
		To:      r.Subject.Email,
		Subject: say(r.LanguageOf(), "code.subject", t.Name),
		Text:    say(r.LanguageOf(), "code.body", code, t.Name, typeIn(r.LanguageOf(), r.Type), r.ID, int(s.cfg.CodeTTL.Minutes())),
	}
	if link := s.privacyPage(t); link != "" {
		m.Text += say(r.LanguageOf(), "code.link", link)
	}
	return m
}

// Verify checks a one-time code. A wrong code counts an attempt; after
// MaxAttempts, or once the code expired, only a new code helps, and the
// message says whether one can still be sent.
func (s *Service) Verify(ctx context.Context, tenantID, id, code string) (*privacy.Request, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-code", "the code is 6 digits")
	}
	r, err := s.request(ctx, t.ID, id)
	if err != nil {
		return nil, err
	}
	var verr error
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		verr = nil
		now := s.now()
		switch {
		case r.Status != privacy.StatusAwaitingVerification:
			return privacy.Errorf(privacy.KindConflict, "already-verified", "this request is not waiting for a code")
		case r.Verification.Attempts >= s.cfg.MaxAttempts:
			return privacy.Errorf(privacy.KindTooMany, "too-many-attempts", "too many wrong codes; %s", s.nextStep(r))
		case !now.Before(r.Verification.ExpiresAt):
			return privacy.Errorf(privacy.KindGone, "code-expired", "the code has expired; %s", s.nextStep(r))
		case !s.checkCode(r.Verification.CodeHash, r.TenantID, r.ID, code):
			r.Verification.Attempts++
			verr = privacy.Errorf(privacy.KindUnprocessable, "wrong-code", "the code is not right; %d attempts left", s.cfg.MaxAttempts-r.Verification.Attempts)
			return nil // the attempt is recorded
		}
		if err := r.Move(privacy.StatusAwaitingDecision); err != nil {
			return err
		}
		r.IdentityVerifiedAt = now
		r.Verification.CodeHash = ""
		r.WakeAt = time.Time{} // no expiry any more; tasks set their own wake
		if err := s.schedule(t, r, now); err != nil {
			return err
		}
		s.audit(r, now, "subject", "request.verified", nil)
		return s.notice(r, now, privacy.NoticeVerified)
	})
	if err != nil {
		return nil, err
	}
	if verr != nil {
		return nil, verr
	}
	s.d.Step("request-verified")
	s.flushQuietly(ctx, r)
	return r, nil
}

// nextStep tells a subject whose code no longer works what they can do: ask
// for a new code while one can be sent, else submit a new request.
func (s *Service) nextStep(r *privacy.Request) string {
	if r.Verification.Sends < s.cfg.MaxCodeSends {
		return "ask for a new code"
	}
	return "no more codes can be sent for this request; submit a new request"
}

// Resend mails a new code (at most MaxCodeSends per request). Earlier codes stop
// working; the new code gets a fresh budget of wrong attempts, so at most
// MaxCodeSends × MaxAttempts guesses are ever allowed per request.
func (s *Service) Resend(ctx context.Context, tenantID, id string) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	r, err := s.request(ctx, t.ID, id)
	if err != nil {
		return err
	}
	code := newCode()
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		switch {
		case r.Status != privacy.StatusAwaitingVerification:
			return privacy.Errorf(privacy.KindConflict, "already-verified", "this request is not waiting for a code")
		case r.Verification.Sends >= s.cfg.MaxCodeSends:
			return privacy.Errorf(privacy.KindTooMany, "too-many-codes", "no more codes can be sent for this request; submit a new request")
		}
		r.Verification.Sends++
		r.Verification.Attempts = 0 // a new code, a new budget (bounded by the sends)
		r.Verification.CodeHash = s.codeHash(r.TenantID, r.ID, code)
		r.Verification.ExpiresAt = s.now().Add(s.cfg.CodeTTL)
		return nil
	})
	if err != nil {
		return err
	}
	return s.mailCode(ctx, t, r, code)
}
