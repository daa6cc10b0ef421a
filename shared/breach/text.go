package breach

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Notice texts in the contact's language: English and Simplified Chinese.
var phrases = map[string]map[string]string{
	"en": {
		"subject.notice":     "Security incident affecting your data: %s",
		"subject.reminder":   "Reminder: unacknowledged security incident: %s",
		"subject.escalation": "Escalation: unacknowledged security incident: %s",
		"subject.overdue":    "Overdue: a notification deadline ended: %s",
		"subject.bounce":     "Security incident (the primary contact could not be reached): %s",
		"intro":              "As your processor we inform you, without undue delay (GDPR Art. 33(2)), of a personal data breach that affects data we process on your behalf.",
		"reason.reminder":    "This incident is not acknowledged yet and one of your deadlines is half run.",
		"reason.escalation":  "This incident is not acknowledged yet and one of your deadlines is three quarters run. You are told as a secondary security contact.",
		"reason.overdue":     "A deadline of this incident ended and it is not acknowledged.",
		"reason.bounce":      "Your primary security contact could not be reached; you are told as a secondary contact.",
		"incident":           "Incident",
		"version":            "Report version",
		"aware":              "We became aware at",
		"nature":             "Nature of the breach",
		"categories":         "Categories of personal data",
		"groups":             "Categories of data subjects",
		"subjects":           "Approximate number of data subjects",
		"records":            "Approximate number of records",
		"consequences":       "Likely consequences",
		"measures":           "Measures taken or proposed",
		"contact":            "Contact point",
		"jurisdictions":      "Jurisdictions",
		"clocks":             "Your deadlines",
		"ack":                "Acknowledge receipt (open the link and confirm)",
		"report":             "The authority report, with every clock, is in the admin API: GET /api/admin/%s/incidents/%s/report",
		"subject.subject":    "Notice of a data breach: %s",
		"s.intro":            "We are writing to tell you about a security incident that may affect your personal data.",
		"s.what":             "What happened",
		"s.info":             "What information was involved",
		"s.doing":            "What we are doing",
		"s.consequences":     "Likely consequences",
		"s.more":             "For more information",
		"s.you":              "What you can do",
		"s.youtext":          "Be alert to unexpected messages asking for your details, change passwords you may have reused, and contact us with any question.",
	},
	"zh-CN": {
		"subject.notice":     "影响您数据的安全事件：%s",
		"subject.reminder":   "提醒：尚未确认的安全事件：%s",
		"subject.escalation": "升级通知：尚未确认的安全事件：%s",
		"subject.overdue":    "已逾期：一项通知期限已届满：%s",
		"subject.bounce":     "安全事件（无法联系到主要联系人）：%s",
		"intro":              "作为您的受托处理者，我们在此及时告知您一起影响我们代您处理的个人信息的安全事件。",
		"reason.reminder":    "该事件尚未确认，您的一项期限已过半。",
		"reason.escalation":  "该事件尚未确认，您的一项期限已过四分之三。您作为次要安全联系人收到此通知。",
		"reason.overdue":     "该事件的一项期限已届满，且尚未确认。",
		"reason.bounce":      "无法联系到您的主要安全联系人，您作为次要联系人收到此通知。",
		"incident":           "事件",
		"version":            "报告版本",
		"aware":              "我们知悉的时间",
		"nature":             "事件性质",
		"categories":         "涉及的个人信息种类",
		"groups":             "涉及的个人类别",
		"subjects":           "涉及的个人大致数量",
		"records":            "涉及的记录大致数量",
		"consequences":       "可能造成的危害",
		"measures":           "已采取或拟采取的补救措施",
		"contact":            "联系方式",
		"jurisdictions":      "涉及的法域",
		"clocks":             "您的期限",
		"ack":                "确认收到（打开链接并确认）",
		"report":             "包含所有期限的监管报告可通过管理接口获取：GET /api/admin/%s/incidents/%s/report",
		"subject.subject":    "个人信息安全事件告知：%s",
		"s.intro":            "我们特此告知您一起可能影响您个人信息的安全事件。",
		"s.what":             "发生了什么",
		"s.info":             "涉及哪些信息",
		"s.doing":            "我们正在采取的措施",
		"s.consequences":     "可能造成的危害",
		"s.more":             "联系我们",
		"s.you":              "您可以采取的措施",
		"s.youtext":          "请警惕索要您个人信息的可疑消息，修改可能重复使用的密码，如有疑问请联系我们。",
	},
}

func phrase(lang, key string) string {
	if p, ok := phrases[lang][key]; ok {
		return p
	}
	return phrases["en"][key]
}

// ackSig signs an acknowledgement link of a notice version.
func (s *Service) ackSig(tenantID, id string, version int) string {
	m := hmac.New(sha256.New, s.cfg.AckKey)
	fmt.Fprintf(m, "breach-ack\x00%s\x00%s\x00%d", tenantID, id, version)
	return hex.EncodeToString(m.Sum(nil)[:20])
}

// AckLink returns the signed acknowledgement link of a notice version.
func (s *Service) AckLink(tenantID, id string, version int) string {
	return fmt.Sprintf("%s/api/breach/ack/%s/%s?v=%d&sig=%s", strings.TrimRight(s.cfg.PublicURL, "/"), tenantID, id, version,
		s.ackSig(tenantID, id, version))
}

// mail composes one notice mail to contact c.
func (s *Service) mail(t *privacy.Tenant, n *Notice, snd Send, c privacy.SecurityContact, key string) privacy.Mail {
	lang := c.Language
	reason := snd.Reason
	if reason == "" {
		reason = ReasonNotice
	}
	var b strings.Builder
	line := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			fmt.Fprintf(&b, "%s: %s\n", phrase(lang, k), v)
		}
	}
	if reason != ReasonNotice {
		b.WriteString(phrase(lang, "reason."+reason) + "\n\n")
	}
	b.WriteString(phrase(lang, "intro") + "\n\n")
	line("incident", n.IncidentID)
	line("version", strconv.Itoa(n.Version))
	line("aware", n.AwareAt.UTC().Format(time.RFC3339))
	line("nature", n.Facts.Nature)
	line("categories", strings.Join(n.Facts.Categories, ", "))
	line("groups", strings.Join(n.Facts.SubjectGroups, ", "))
	line("subjects", strconv.FormatInt(n.Facts.SubjectsApprox, 10))
	line("records", strconv.FormatInt(n.Facts.RecordsApprox, 10))
	line("consequences", n.Facts.Consequences)
	line("measures", n.Facts.Measures)
	line("contact", n.Facts.Contact)
	line("jurisdictions", strings.Join(n.Jurisdictions, ", "))
	// The controller's clocks start when it is first told: for the first
	// notice, that is this mail.
	told := *n
	if told.NotifiedAt.IsZero() {
		told.NotifiedAt = s.now()
	}
	var clocks []string
	for _, c := range s.noticeClocks(t, &told) {
		if c.Party == PartyController && !c.DueAt.IsZero() {
			clocks = append(clocks, fmt.Sprintf("  %s (%s, %s): %s", c.ID, c.Obligation, c.Duration, c.DueAt.UTC().Format(time.RFC3339)))
		}
	}
	if len(clocks) > 0 {
		b.WriteString(phrase(lang, "clocks") + ":\n" + strings.Join(clocks, "\n") + "\n")
	}
	b.WriteString("\n" + phrase(lang, "ack") + ":\n" + s.AckLink(n.TenantID, n.ID, n.Version) + "\n\n")
	b.WriteString(fmt.Sprintf(phrase(lang, "report"), n.TenantID, n.ID) + "\n")
	b.WriteString("\nReference: " + n.IncidentID + "/" + n.TenantID + "\n")
	return privacy.Mail{ID: mailID(n.TenantID, n.ID, key), To: c.Email,
		Subject: fmt.Sprintf(phrase(lang, "subject."+reason), n.Facts.Title), Text: b.String()}
}

// WebhookNotice is the body posted to a tenant's breach webhook.
type WebhookNotice struct {
	Type       string    `json:"type"` // "io.privops.breach.notice.v1"
	TenantID   string    `json:"tenantId"`
	IncidentID string    `json:"incidentId"`
	Version    int       `json:"version"`
	Reason     string    `json:"reason"`
	AwareAt    time.Time `json:"awareAt"`
	Facts      Facts     `json:"facts"`
	AckURL     string    `json:"ackUrl"`
}

func (s *Service) webhookBody(n *Notice, snd Send) WebhookNotice {
	return WebhookNotice{Type: "io.privops.breach.notice.v1", TenantID: n.TenantID, IncidentID: n.IncidentID, Version: snd.Version,
		Reason: snd.Reason, AwareAt: n.AwareAt, Facts: n.Facts, AckURL: s.AckLink(n.TenantID, n.ID, snd.Version)}
}

// subjectText is the plain-language notice to data subjects (GDPR Art.
// 34(2): the nature, the contact point, likely consequences and measures;
// California's headings, Civ. Code 1798.82(d) [S]).
func subjectText(lang, tenantName, contact string, f Facts) (string, string) {
	var b strings.Builder
	b.WriteString(phrase(lang, "s.intro") + "\n\n")
	sec := func(k, v string) { fmt.Fprintf(&b, "%s\n%s\n\n", phrase(lang, k), v) }
	sec("s.what", f.Nature)
	sec("s.info", strings.Join(f.Categories, ", "))
	sec("s.doing", f.Measures)
	sec("s.consequences", f.Consequences)
	sec("s.you", phrase(lang, "s.youtext"))
	more := tenantName
	if contact != "" {
		more += ", " + contact
	}
	sec("s.more", more)
	return fmt.Sprintf(phrase(lang, "subject.subject"), tenantName), strings.TrimRight(b.String(), "\n") + "\n"
}
