package portal_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/portal"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// refusing is a Service that refuses every submission and verification, so a
// test sees only what the portal's own limits answer.
type refusing struct{}

var errRefused = privacy.Errorf(privacy.KindUnprocessable, "refused", "refused by the fake")

func (refusing) Tenant(context.Context, string) (*privacy.Tenant, error) {
	return &privacy.Tenant{}, nil
}
func (refusing) Submit(context.Context, string, dsr.Submission, string, dsr.Actor) (*dsr.Submitted, error) {
	return nil, errRefused
}
func (refusing) Verify(context.Context, string, string, string) (*privacy.Request, error) {
	return nil, errRefused
}
func (refusing) Resend(context.Context, string, string) error { return errRefused }
func (refusing) Get(context.Context, string, string) (*privacy.Request, error) {
	return nil, errRefused
}
func (refusing) CheckToken(string, string, string) bool          { return true }
func (refusing) PackageLinkOf(*privacy.Request) *dsr.PackageLink { return nil }
func (refusing) Download(context.Context, string, string, string, string) (io.ReadCloser, int64, error) {
	return nil, 0, errRefused
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// TestRetryAfterIsTheRealWait: each limit's 429 tells when the next attempt
// will be allowed (it said 60 s whatever the window).
func TestRetryAfterIsTheRealWait(t *testing.T) {
	t.Parallel()
	type answer struct {
		Status     int
		RetryAfter string
	}
	submit := func(email string) (string, string) {
		return "/api/portal/acme/requests", `{"type":"access","email":"` + email + `","country":"DE"}`
	}
	cases := []struct {
		name    string
		cfg     portal.Config
		path    func(i int) (string, string)
		advance []time.Duration // before each call
		want    []answer
	}{
		{"per address, a minute's window",
			portal.Config{MaxBody: 4096, SubmitsPerIP: 2, SubmitsPerMail: 100, VerifiesPerIP: 100},
			func(i int) (string, string) { return submit("a" + string(rune('0'+i)) + "@example.com") },
			[]time.Duration{0, 10 * time.Second, 15 * time.Second, 34 * time.Second, time.Second},
			[]answer{{422, ""}, {422, ""}, {429, "35"}, {429, "1"}, {422, ""}}},
		{"per email, an hour's window",
			portal.Config{MaxBody: 4096, SubmitsPerIP: 100, SubmitsPerMail: 1, VerifiesPerIP: 100},
			func(int) (string, string) { return submit("ada@example.com") },
			[]time.Duration{0, 20 * time.Minute, 39*time.Minute + 59*time.Second + 500*time.Millisecond},
			[]answer{{422, ""}, {429, "2400"}, {429, "1"}}},
		{"verification codes per address",
			portal.Config{MaxBody: 4096, SubmitsPerIP: 100, SubmitsPerMail: 100, VerifiesPerIP: 1},
			func(int) (string, string) { return "/api/portal/acme/requests/r1/verify", `{"code":"123456"}` },
			[]time.Duration{0, 45 * time.Second},
			[]answer{{422, ""}, {429, "15"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{t: time.Date(2030, 1, 31, 23, 59, 30, 0, time.UTC)}
			h := portal.New(tc.cfg, portal.Deps{Service: refusing{}, Now: c.Now}).Handler()
			var got []answer
			for i, d := range tc.advance {
				c.Advance(d)
				path, body := tc.path(i)
				r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer tok")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				got = append(got, answer{w.Code, w.Header().Get("Retry-After")})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}
