package notice

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// fakeNotices publishes acme/inc-1 only.
type fakeNotices struct{}

func (fakeNotices) PublicNotice(_ context.Context, tenantID, incidentID string) (*breachsend.Campaign, error) {
	if tenantID != "acme" || incidentID != "inc-1" {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-notice", "no public notice for this incident")
	}
	return &breachsend.Campaign{TenantID: "acme", IncidentID: "inc-1", NoticeVersion: 2, Public: true, PublicReason: "tenant-choice",
		PublishedAt: time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC), Total: 12,
		Subject: map[string]string{"en": "Notice of Data Breach", "zh-CN": "数据泄露通知"},
		Text:    map[string]string{"en": "What Happened <script>alert(1)</script>", "zh-CN": "发生了什么"}}, nil
}

// TestPublicNotice: JSON by default, HTML for ?format=html or a browser's
// Accept, escaped, both languages, no counts; 404 unknown-notice otherwise,
// and without a fan-out at all.
func TestPublicNotice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, accept string
		deps               Deps
		status             int
		contentType        string
		contains, absent   []string
	}{
		{"json", "/api/notice/acme/inc-1", "", Deps{Notices: fakeNotices{}}, 200, "application/json",
			[]string{`"reason":"tenant-choice"`, `"zh-CN":"数据泄露通知"`}, []string{"12", "total"}},
		{"html by query", "/api/notice/acme/inc-1?format=html", "", Deps{Notices: fakeNotices{}}, 200, "text/html",
			[]string{"<h1>Notice of Data Breach</h1>", `lang="zh-CN"`, "&lt;script&gt;", "2030-01-31"}, []string{"<script>"}},
		{"html by accept", "/api/notice/acme/inc-1", "text/html,application/xhtml+xml", Deps{Notices: fakeNotices{}}, 200, "text/html", nil, nil},
		{"json preferred", "/api/notice/acme/inc-1", "application/json, text/html", Deps{Notices: fakeNotices{}}, 200, "application/json", nil, nil},
		{"unpublished", "/api/notice/acme/inc-2", "", Deps{Notices: fakeNotices{}}, 404, "application/problem+json", []string{"unknown-notice"}, nil},
		{"another tenant", "/api/notice/globex/inc-1", "", Deps{Notices: fakeNotices{}}, 404, "application/problem+json", []string{"unknown-notice"}, nil},
		{"no fan-out", "/api/notice/acme/inc-1", "", Deps{}, 404, "application/problem+json", []string{"unknown-notice"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			New(tc.deps).Handler().ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) {
				t.Fatalf("%d %s, want %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.contentType, body)
			}
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("the answer lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(body, s) {
					t.Errorf("the answer holds %q:\n%s", s, body)
				}
			}
			if tc.contentType == "application/json" {
				var v View
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Version != 2 {
					t.Errorf("json: %v %+v", err, v)
				}
			}
		})
	}
}
