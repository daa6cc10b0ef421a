package dsr_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// TestMailsInTheRequestsLanguage: the code mail and every notice are written
// in the language the request was submitted in, English by default.
func TestMailsInTheRequestsLanguage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		language string
		want     []string // in order: code mail, verified, denied
	}{
		{"english by default", "", []string{"Your verification code for ACME", "We received your privacy request — ACME", "Your privacy request was declined — ACME"}},
		{"english", privacy.LangEnglish, []string{"Your verification code for ACME", "We received your privacy request — ACME", "Your privacy request was declined — ACME"}},
		{"simplified chinese", privacy.LangSimplifiedChinese, []string{"您在 ACME 的验证码", "我们已收到您的隐私请求 — ACME", "您的隐私请求被拒绝 — ACME"}},
		{"zh-CN, an alias", "zh-CN", []string{"您在 ACME 的验证码", "我们已收到您的隐私请求 — ACME", "您的隐私请求被拒绝 — ACME"}},
		{"en-GB, an alias", "en-GB", []string{"Your verification code for ACME", "We received your privacy request — ACME", "Your privacy request was declined — ACME"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			sub := validSubmission()
			sub.Language = tc.language
			res, err := f.svc.Submit(ctx, "acme", sub, "", dsr.Actor{})
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := privacy.CanonicalLanguage(tc.language); tc.language != "" && res.Request.Language != want {
				t.Errorf("stored language %q, want %q", res.Request.Language, want)
			}
			code := f.mail.Mails()[0].Text
			codeValue := code[strings.IndexAny(code, "0123456789") : strings.IndexAny(code, "0123456789")+6]
			if _, err := f.svc.Verify(ctx, "acme", res.Request.ID, codeValue); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Deny(ctx, "acme", res.Request.ID, dsr.Actor{Admin: "alice"}, "no account"); err != nil {
				t.Fatal(err)
			}
			f.notices(t)
			var subjects []string
			for _, m := range f.mail.Mails() {
				subjects = append(subjects, m.Subject)
			}
			if diff := cmp.Diff(tc.want, subjects); diff != "" {
				t.Errorf("mail subjects (-want +got):\n%s", diff)
			}
			denied := f.mail.Mails()[2].Text
			if !strings.Contains(denied, "no account") {
				t.Errorf("denial does not give the reason: %q", denied)
			}
			if tc.language == privacy.LangSimplifiedChinese && (!strings.Contains(denied, "原因如下") || !strings.Contains(code, "您的验证码是")) {
				t.Errorf("chinese mails not in chinese:\n%s\n%s", code, denied)
			}
		})
	}
}

// TestMailsLinkThePrivacyPage: the code mail and the notices link the
// tenant's privacy center on this app (they named none: "enter it on the
// privacy page", with no page), unless PORTAL_BASE_URL names the tenant's own.
func TestMailsLinkThePrivacyPage(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, portalBase, want string }{
		{"the privacy center", "", "https://privops.example.com/api/center/acme/"},
		{"PORTAL_BASE_URL", "https://privacy.acme.example", "https://privacy.acme.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			svc, err := dsr.New(dsr.Config{NoticesQueue: queueName, CodeTTL: 15 * time.Minute, MaxAttempts: 5, MaxCodeSends: 3, OutboxLease: time.Minute,
				PublicURL: "https://privops.example.com", PortalBaseURL: tc.portalBase},
				dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
				dsr.Deps{Store: f.store, Publisher: f.pub, Mailer: f.mail, Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			f.svc = svc
			f.submitVerified(t, "acme")
			f.notices(t)
			ms := f.mail.Mails()
			if len(ms) != 2 {
				t.Fatalf("%d mails, want the code and the verified notice", len(ms))
			}
			for _, m := range ms {
				if !strings.Contains(m.Text, tc.want) {
					t.Errorf("%q does not link %s:\n%s", m.Subject, tc.want, m.Text)
				}
			}
		})
	}
}
