package servicebus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

const fakeKey = "c2VjcmV0LWtleS1ub3QtcmVhbA=="

func TestNewClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		conn    string
		wantErr bool
	}{
		{name: "a namespace key", conn: "Endpoint=sb://privops.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + fakeKey},
		{name: "empty", conn: "", wantErr: true},
		{name: "a key without its name", conn: "Endpoint=sb://privops.servicebus.windows.net/;SharedAccessKey=" + fakeKey, wantErr: true},
		{name: "no endpoint", conn: "SharedAccessKeyName=send;SharedAccessKey=" + fakeKey, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tt.conn)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewClient error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), fakeKey) {
					t.Errorf("error %q quotes the key", err)
				}
				return
			}
			if err := c.Close(t.Context()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no tokens here")
}

func TestNewClientWithCredential(t *testing.T) {
	t.Parallel()
	if _, err := NewClientWithCredential("", fakeCredential{}); err == nil {
		t.Error("NewClientWithCredential with no namespace succeeded")
	}
	if _, err := NewClientWithCredential("privops", nil); err == nil {
		t.Error("NewClientWithCredential with no credential succeeded")
	}
	c, err := NewClientWithCredential("privops", fakeCredential{})
	if err != nil {
		t.Fatalf("NewClientWithCredential: %v", err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestFullyQualified(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"privops":                              "privops.servicebus.windows.net",
		"privops.servicebus.windows.net":       "privops.servicebus.windows.net",
		"sb://privops.servicebus.windows.net/": "privops.servicebus.windows.net",
		"privops.servicebus.chinacloudapi.cn":  "privops.servicebus.chinacloudapi.cn",
	}
	got := map[string]string{}
	for in := range tests {
		got[in] = fullyQualified(in)
	}
	if diff := cmp.Diff(tests, got); diff != "" {
		t.Errorf("fullyQualified (-want +got):\n%s", diff)
	}
}

// TestNewMakesSendersLazily checks the real wiring without a network: making
// and closing a sender opens no link.
func TestNewMakesSendersLazily(t *testing.T) {
	t.Parallel()
	c, err := NewClient("Endpoint=sb://privops.invalid/;SharedAccessKeyName=send;SharedAccessKey=" + fakeKey)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	p := New(c)
	if _, err := p.sender("tasks"); err != nil {
		t.Fatalf("sender: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Publish(ctx, "tasks", msg("m1")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}
