//go:build !privops_lambda && !privops_standalone

package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/privops/privops/shared/blobtest"
	"github.com/privops/privops/shared/privacy"
)

// The Azure runs are switched on by AZURE_STORAGE_CONNECTION_STRING, which
// `go tool -modfile=tools/task/go.mod task test` sets to an Azurite it starts (see .ci/test). Each run
// works in a container of its own, deleted at the end.

// requireAzure skips tb unless a Blob endpoint is configured, and returns
// its connection string.
func requireAzure(tb testing.TB) string {
	tb.Helper()
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if cs == "" {
		tb.Skip("AZURE_STORAGE_CONNECTION_STRING is not set: the Azure Blob conformance run needs Azurite or a storage account (go tool -modfile=tools/task/go.mod task test starts Azurite)")
	}
	return cs
}

// newContainer returns a container client on a fresh, uniquely named
// container (not yet created), deleted when tb ends.
func newContainer(tb testing.TB, cs string) *container.Client {
	tb.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := "blobtest-" + hex.EncodeToString(b[:])
	c, err := container.NewClientFromConnectionString(cs, name, nil)
	if err != nil {
		tb.Fatalf("container client: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context() has ended by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Delete(ctx, nil); err != nil && !errors.Is(translate(err), privacy.ErrNotFound) {
			tb.Errorf("delete test container %s: %v", name, translate(err))
		}
	})
	return c
}

func TestAzure(t *testing.T) {
	t.Parallel()
	cs := requireAzure(t)
	a := NewAzure(newContainer(t, cs))
	if err := a.EnsureContainer(t.Context()); err != nil {
		t.Fatalf("EnsureContainer: %v", err)
	}
	if err := a.EnsureContainer(t.Context()); err != nil {
		t.Fatalf("EnsureContainer of an existing container: %v", err)
	}
	blobtest.Run(t, func(*testing.T) privacy.Blobs { return a })
}

// TestAzureMissingContainer: a container that is not there reads as absent
// blobs, and a Put says so instead of creating it.
func TestAzureMissingContainer(t *testing.T) {
	t.Parallel()
	a := NewAzure(newContainer(t, requireAzure(t)))
	if _, _, err := a.Open(t.Context(), "acme/r1/export.zip"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("Open in a missing container: %v, want ErrNotFound", err)
	}
	if err := a.Delete(t.Context(), "acme/r1/export.zip"); err != nil {
		t.Errorf("Delete in a missing container: %v", err)
	}
	if _, err := a.Put(t.Context(), "acme/r1/export.zip", strings.NewReader("x")); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("Put in a missing container: %v, want ErrNotFound", err)
	}
}

// The tests below need no Blob endpoint: they cover what the adapter
// decides on its own.

func sdkErr(status int, code string) error {
	return &azcore.ResponseError{StatusCode: status, ErrorCode: code,
		RawResponse: &http.Response{StatusCode: status, Header: http.Header{}}}
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want error // sentinel; nil: none of them
	}{
		{"blob not found", sdkErr(404, "BlobNotFound"), privacy.ErrNotFound},
		{"container not found", sdkErr(404, "ContainerNotFound"), privacy.ErrNotFound},
		{"404 without a code", sdkErr(404, ""), privacy.ErrNotFound}, // HEAD answers have no body
		{"throttled", sdkErr(429, ""), privacy.ErrUnavailable},
		{"server busy", sdkErr(503, "ServerBusy"), privacy.ErrUnavailable},
		{"operation timed out", sdkErr(500, "OperationTimedOut"), privacy.ErrUnavailable},
		{"internal error", sdkErr(500, "InternalError"), privacy.ErrUnavailable},
		{"gateway timeout", sdkErr(504, ""), privacy.ErrUnavailable},
		{"request timeout", sdkErr(408, ""), privacy.ErrUnavailable},
		{"container being deleted", sdkErr(409, "ContainerBeingDeleted"), privacy.ErrUnavailable},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), privacy.ErrUnavailable},
		{"net timeout", &url.Error{Op: "Get", URL: "http://127.0.0.1", Err: timeoutErr{}}, privacy.ErrUnavailable},
		{"container exists", sdkErr(409, "ContainerAlreadyExists"), nil},
		{"lease held", sdkErr(412, "LeaseIdMissing"), nil},
		{"bad request", sdkErr(400, "InvalidBlobOrBlock"), nil},
		{"forbidden", sdkErr(403, "AuthorizationPermissionMismatch"), nil},
		{"cancelled", context.Canceled, nil},
		{"source failed", errors.New("source failed"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := translate(tt.err)
			for _, s := range []error{privacy.ErrNotFound, privacy.ErrConflict, privacy.ErrUnavailable} {
				if errors.Is(got, s) != (s == tt.want) {
					t.Errorf("translate(%v) = %v; wraps %v: %t, want %t", tt.err, got, s, errors.Is(got, s), s == tt.want)
				}
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("translate dropped the original error from the chain: %v", got)
			}
		})
	}
	if translate(nil) != nil {
		t.Error("translate(nil) is not nil")
	}
}

// TestErrorTextHasNoBody: the SDK's error text quotes the response body and
// the blob's path; the translated error names the status and code only.
func TestErrorTextHasNoBody(t *testing.T) {
	t.Parallel()
	body := `<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidBlobOrBlock</Code><Message>subject@example.org</Message></Error>`
	u, err := url.Parse("https://acct.blob.core.windows.net/exports/acme/r1/export.zip")
	if err != nil {
		t.Fatal(err)
	}
	resp := &http.Response{StatusCode: 400, Status: "400 Bad Request",
		Header:  http.Header{"X-Ms-Error-Code": {"InvalidBlobOrBlock"}},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: &http.Request{Method: "PUT", URL: u}}
	sdk := runtime.NewResponseError(resp)
	if !strings.Contains(sdk.Error(), "subject@example.org") {
		t.Fatalf("the SDK's text no longer quotes the body; the test checks nothing: %q", sdk.Error())
	}
	if got := translate(sdk).Error(); got != "azure blob answered 400 (InvalidBlobOrBlock)" {
		t.Fatalf("error text %q", got)
	}
}

// TestTranslatingReader: a download that breaks midway reports the port's
// sentinel; the end of the blob stays io.EOF.
func TestTranslatingReader(t *testing.T) {
	t.Parallel()
	r := &translatingReader{rc: io.NopCloser(io.MultiReader(strings.NewReader("ab"), errorReader{sdkErr(503, "ServerBusy")}))}
	data, err := io.ReadAll(r)
	if string(data) != "ab" || !errors.Is(err, privacy.ErrUnavailable) {
		t.Errorf("ReadAll = %q, %v; want the bytes before the failure and ErrUnavailable", data, err)
	}
	r = &translatingReader{rc: io.NopCloser(strings.NewReader("ab"))}
	if _, err := r.Read(make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 2)); err != io.EOF {
		t.Errorf("Read at the end = %v, want io.EOF itself", err)
	}
}

func TestNewAzureFromConnectionString(t *testing.T) {
	t.Parallel()
	const key = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs="
	a, err := NewAzureFromConnectionString("AccountName=acct;AccountKey="+key+";EndpointSuffix=core.windows.net", "exports", nil)
	if err != nil {
		t.Fatalf("a valid connection string: %v", err)
	}
	if got, want := a.c.URL(), "https://acct.blob.core.windows.net/exports"; got != want {
		t.Errorf("container URL %q, want %q", got, want)
	}
	for _, cs := range []string{"", "AccountKey=" + key, "nonsense"} {
		_, err := NewAzureFromConnectionString(cs, "exports", nil)
		if err == nil {
			t.Errorf("connection string %q accepted", cs)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("the error quotes the account key: %v", err)
		}
	}
}

func TestAzureRejectsNames(t *testing.T) {
	t.Parallel()
	// No request is sent: the name check comes first.
	a, err := NewAzureFromConnectionString("AccountName=acct;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:1/acct", "exports", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "/acme/x", "acme/../x", `acme\x`, "acme//x"} {
		if _, err := a.Put(t.Context(), name, strings.NewReader("x")); !errors.Is(err, errName) {
			t.Errorf("Put(%q) = %v, want a name error", name, err)
		}
		if _, _, err := a.Open(t.Context(), name); !errors.Is(err, errName) {
			t.Errorf("Open(%q) = %v, want a name error", name, err)
		}
		if err := a.Delete(t.Context(), name); !errors.Is(err, errName) {
			t.Errorf("Delete(%q) = %v, want a name error", name, err)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }
