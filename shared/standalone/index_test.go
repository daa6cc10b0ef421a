package standalone

import (
	"io"
	"net/http"
	"testing"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// TestIndexAnswersRootOnly: Host.Index serves GET / (it answered 404), and
// only /: every other path is still routed to the functions or refused.
func TestIndexAnswersRootOnly(t *testing.T) {
	t.Parallel()
	base, _ := start(t, &Host{
		Functions: []trigger.Function{{Name: "portal", HTTP: named("portal")}},
		Specs:     []funcjson.Spec{httpSpec("portal", "portal/{*path}", "GET")},
		Index:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "index") }),
	})
	cases := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/", 200, "index"},
		{"/api/portal/x", 200, "portal/portal"},
		{"/index.html", 404, ""},
	}
	for _, tc := range cases {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || (tc.wantBody != "" && string(body) != tc.wantBody) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
		}
	}
}
