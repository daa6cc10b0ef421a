package dsr

import (
	"fmt"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// The texts of the mails a data subject gets (the code mail and every
// notice), in each of privacy.Languages: a request is answered in the
// language it was submitted in (Request.Language, from the privacy center's
// form or the browser's Accept-Language). Keys are the notice or the text's
// role; values are fmt formats whose verbs the callers fill in order.
var mailTexts = sync.OnceValue(func() map[string]map[string]string {
	return map[string]map[string]string{
		privacy.LangEnglish: {
			"code.subject": "Your verification code for %s",
			"code.body": "Your code is %s\n\nEnter it on the %s privacy page to confirm your %s request (reference %s).\n" +
				"It expires in %d minutes. If you did not ask for this, ignore this mail: nothing happens without the code.\n",
			"code.link":                                    "\nThe privacy page: %s\n",
			"subject." + privacy.NoticeVerified:            "We received your privacy request — %s",
			"subject." + privacy.NoticeApproved:            "Your privacy request is being processed — %s",
			"subject." + privacy.NoticeDenied:              "Your privacy request was declined — %s",
			"subject." + privacy.NoticeExtended:            "More time is needed for your privacy request — %s",
			"subject." + privacy.NoticeCancelled:           "Your privacy request was cancelled — %s",
			"subject." + privacy.NoticeClarification:       "We need more information about your privacy request — %s",
			"subject." + privacy.NoticeClarificationLapsed: "We are continuing with your privacy request — %s",
			"subject." + privacy.NoticeCompleted:           "Your privacy request is complete — %s",
			"subject." + privacy.NoticePartial:             "Your privacy request is complete, with exceptions — %s",
			"subject." + privacy.NoticeLinkReissued:        "A new download link for your data — %s",
			"subject." + privacy.NoticeResumed:             "We are now completing your privacy request — %s",
			"subject.other":                                "About your privacy request — %s",
			"head":                                         "Reference: %s\nRequest: %s\n\n",
			privacy.NoticeVerified:                         "We have received your request and confirmed your email address.\nWe will respond by %s.\n",
			privacy.NoticeApproved:                         "Your request has been accepted and is being carried out.\nWe will respond by %s.\n",
			privacy.NoticeDenied: "We cannot act on your request, for this reason:\n\n%s\n\n" +
				"You may lodge a complaint with a data protection supervisory authority and seek a judicial remedy.\n",
			privacy.NoticeExtended:      "We need more time to respond, as the law allows, for this reason:\n\n%s\n\nWe will respond by %s.\n",
			privacy.NoticeCancelled:     "Your request has been cancelled. You may submit a new request at any time.\n",
			privacy.NoticeClarification: "To answer your request we need more information:\n\n%s\n\nPlease reply to this message.\n",
			privacy.NoticeClarificationLapsed: "We asked you for more information and had no answer within %s.\n" +
				"The time we have to respond runs again: we are answering your request as it stands, and will respond by %s.\n" +
				"You can still reply to our question; we will take your answer into account where we can.\n",
			"days":                     "%d days",
			"day":                      "1 day",
			privacy.NoticeLinkReissued: "Here is a new link to download your data (it works until %s):\n%s\n\nEarlier links no longer work.\n",
			privacy.NoticeResumed: "We told you that part of your request was deferred because the law allowed or required us to keep some data.\n" +
				"That reason no longer applies: we are now carrying out the rest of your %s request, and will tell you when it is done.\n",
			"questions":             "\nQuestions: %s\n",
			"follow":                "Follow your request: %s\n",
			"outcome.ready":         "Your data is ready. Download it (the link works until %s):\n%s\n\n",
			"outcome.none":          "None of our services holds data about you.\n\n",
			"outcome.all":           "Your %s request has been carried out.\n\n",
			"outcome.part":          "Your %s request has been carried out in part. What was and was not done:\n\n",
			"done":                  "done",
			"notDone":               "not done",
			"erased":                "erased",
			"notErased":             "not erased",
			"task.done":             "- %s: %s\n",
			"task.noData":           "- %s: holds no data about you\n",
			"task.heldWhy":          "the service must keep it for now for a legal reason",
			"task.heldBecause":      "kept for now, because %s",
			"task.held":             "- %s: %s yet: %s. This is deferred, not refused: we will act on it when that reason no longer applies.\n",
			"task.skipped":          "- %s: not applicable (%s)\n",
			"task.failed":           "- %s: %s yet: it could not be completed; we are following up\n",
			"date":                  "2 January 2006",
			"type.access":           "access",
			"type.export":           "export",
			"type.erase":            "erase",
			"type.rectify":          "rectify",
			"type.restrict":         "restrict",
			"type.lift-restriction": "lift-restriction",
			"type.object":           "object",
		},
		privacy.LangSimplifiedChinese: {
			"code.subject": "您在 %s 的验证码",
			"code.body": "您的验证码是 %s\n\n请在 %s 的隐私页面输入此验证码，以确认您的“%s”请求（编号 %s）。\n" +
				"验证码 %d 分钟内有效。如果您没有提出此请求，请忽略本邮件：没有验证码，什么都不会发生。\n",
			"code.link":                                    "\n隐私页面：%s\n",
			"subject." + privacy.NoticeVerified:            "我们已收到您的隐私请求 — %s",
			"subject." + privacy.NoticeApproved:            "您的隐私请求正在处理 — %s",
			"subject." + privacy.NoticeDenied:              "您的隐私请求被拒绝 — %s",
			"subject." + privacy.NoticeExtended:            "您的隐私请求需要更多时间 — %s",
			"subject." + privacy.NoticeCancelled:           "您的隐私请求已取消 — %s",
			"subject." + privacy.NoticeClarification:       "我们需要有关您隐私请求的更多信息 — %s",
			"subject." + privacy.NoticeClarificationLapsed: "我们正在继续处理您的隐私请求 — %s",
			"subject." + privacy.NoticeCompleted:           "您的隐私请求已完成 — %s",
			"subject." + privacy.NoticePartial:             "您的隐私请求已完成（有例外） — %s",
			"subject." + privacy.NoticeLinkReissued:        "您的数据的新下载链接 — %s",
			"subject." + privacy.NoticeResumed:             "我们正在完成您的隐私请求 — %s",
			"subject.other":                                "关于您的隐私请求 — %s",
			"head":                                         "请求编号：%s\n请求：%s\n\n",
			privacy.NoticeVerified:                         "我们已收到您的请求，并确认了您的电子邮箱地址。\n我们将在 %s 之前答复。\n",
			privacy.NoticeApproved:                         "您的请求已被接受，正在处理。\n我们将在 %s 之前答复。\n",
			privacy.NoticeDenied: "我们无法处理您的请求，原因如下：\n\n%s\n\n" +
				"您可以向数据保护监管机构投诉，并寻求司法救济。\n",
			privacy.NoticeExtended:      "依照法律规定，我们需要更多时间答复，原因如下：\n\n%s\n\n我们将在 %s 之前答复。\n",
			privacy.NoticeCancelled:     "您的请求已取消。您可以随时提交新的请求。\n",
			privacy.NoticeClarification: "为了答复您的请求，我们需要更多信息：\n\n%s\n\n请回复本邮件。\n",
			privacy.NoticeClarificationLapsed: "我们曾请您提供更多信息，但在 %s内未收到答复。\n" +
				"答复期限已重新开始计算：我们将按您请求的现有内容处理，并在 %s 之前答复。\n" +
				"您仍可回复我们的问题，我们会尽可能考虑您的答复。\n",
			"days":                     "%d 天",
			"day":                      "1 天",
			privacy.NoticeLinkReissued: "这是下载您的数据的新链接（有效期至 %s）：\n%s\n\n之前的链接已失效。\n",
			privacy.NoticeResumed: "我们曾告知您，由于法律允许或要求我们保留部分数据，您的请求有一部分被推迟。\n" +
				"该原因已不再适用：我们正在完成您的“%s”请求的其余部分，完成后会通知您。\n",
			"questions":             "\n如有疑问：%s\n",
			"follow":                "查看您的请求：%s\n",
			"outcome.ready":         "您的数据已准备好。请下载（链接有效期至 %s）：\n%s\n\n",
			"outcome.none":          "我们的服务中没有关于您的数据。\n\n",
			"outcome.all":           "您的“%s”请求已处理完毕。\n\n",
			"outcome.part":          "您的“%s”请求已部分处理。已完成和未完成的事项如下：\n\n",
			"done":                  "已完成",
			"notDone":               "尚未完成",
			"erased":                "已删除",
			"notErased":             "尚未删除",
			"task.done":             "- %s：%s\n",
			"task.noData":           "- %s：没有关于您的数据\n",
			"task.heldWhy":          "该服务因法律原因目前必须保留这些数据",
			"task.heldBecause":      "暂时保留，因为%s",
			"task.held":             "- %s：%s：%s。这是推迟而非拒绝：当该原因不再适用时，我们会处理。\n",
			"task.skipped":          "- %s：不适用（%s）\n",
			"task.failed":           "- %s：%s：未能完成，我们正在跟进\n",
			"date":                  "2006年1月2日",
			"type.access":           "访问",
			"type.export":           "导出",
			"type.erase":            "删除",
			"type.rectify":          "更正",
			"type.restrict":         "限制处理",
			"type.lift-restriction": "解除限制",
			"type.object":           "反对",
		},
	}
})

// holdGroundsZH are the legal grounds of privacy.HoldCategory.SubjectText in
// Simplified Chinese (GDPR Art. 17(3)).
var holdGroundsZH = map[privacy.HoldCategory]string{
	privacy.HoldFreedomOfExpression: "行使言论和信息自由的权利需要这些数据（GDPR 第 17(3)(a) 条）",
	privacy.HoldLegalObligation:     "法律要求我们保留这些数据（GDPR 第 17(3)(b) 条）",
	privacy.HoldPublicInterest:      "执行符合公共利益的任务或行使官方权力需要这些数据（GDPR 第 17(3)(b) 条）",
	privacy.HoldPublicHealth:        "出于公共卫生领域的公共利益需要这些数据（GDPR 第 17(3)(c) 条）",
	privacy.HoldArchiving:           "出于公共利益的存档、科学或历史研究或统计目的需要这些数据（GDPR 第 17(3)(d) 条）",
	privacy.HoldLegalClaims:         "确立、行使或抗辩法律主张需要这些数据（GDPR 第 17(3)(e) 条）",
}

// say formats the text key in lang (English when lang has no such text).
func say(lang, key string, args ...any) string {
	f, ok := mailTexts()[lang][key]
	if !ok {
		f = mailTexts()[privacy.LangEnglish][key]
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// dateIn formats a date the way lang writes it, in the tenant's zone.
func dateIn(lang string, t *privacy.Tenant, at time.Time) string {
	return at.In(t.Location()).Format(say(lang, "date"))
}

// typeIn names a request type in lang.
func typeIn(lang string, typ privacy.RequestType) string { return say(lang, "type."+string(typ)) }

// holdGround states a hold's legal ground in lang.
func holdGround(lang string, c privacy.HoldCategory) string {
	if lang == privacy.LangSimplifiedChinese {
		if s, ok := holdGroundsZH[c]; ok {
			return s
		}
		return "法律允许或要求我们暂时保留这些数据（GDPR 第 17(3) 条）"
	}
	return c.SubjectText()
}
