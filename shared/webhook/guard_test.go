package webhook_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

func TestAddrAllowed(t *testing.T) {
	t.Parallel()
	type verdict struct{ Public, Private bool } // allowed for a strict tenant, for one allowing private addresses
	public, private, never := verdict{true, true}, verdict{false, true}, verdict{false, false}
	tests := []struct {
		addr string
		want verdict
	}{
		{"93.184.215.14", public},
		{"8.8.8.8", public},
		{"2606:4700:4700::1111", public},
		{"::ffff:93.184.215.14", public},
		{"64:ff9b::5db8:d70e", public}, // NAT64 of 93.184.215.14
		{"2002:5db8:d70e::1", public},  // 6to4 of 93.184.215.14
		{"127.0.0.1", private},
		{"127.255.255.254", private},
		{"::1", private},
		{"::ffff:127.0.0.1", private},
		{"10.1.2.3", private},
		{"172.16.0.1", private},
		{"172.31.255.255", private},
		{"192.168.1.1", private},
		{"::ffff:192.168.1.1", private},
		{"100.64.0.1", private}, // CGNAT
		{"100.127.255.254", private},
		{"fd12:3456::1", private},
		{"fc00::1", private},
		{"64:ff9b::7f00:1", private},                      // NAT64 of 127.0.0.1
		{"2002:c0a8:101::1", private},                     // 6to4 of 192.168.1.1
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", private}, // Teredo: server 65.54.227.120, client 192.0.2.45
		// IPv6 forms of refused IPv4 addresses are refused as that address
		// (they were allowed, or allowed to tenants allowing private ones).
		{"::ffff:0:93.184.215.14", public},                // IPv4-translated (RFC 2765) of a public address
		{"::ffff:0:127.0.0.1", private},                   // IPv4-translated of loopback
		{"::ffff:0:169.254.169.254", never},               // IPv4-translated of cloud metadata
		{"::ffff:0:a9fe:a9fe", never},                     // the same, written in hex
		{"64:ff9b:1::a9fe:a9fe", never},                   // local-use NAT64 /96 of metadata
		{"64:ff9b:1:a9fe:a9:fe00::", never},               // local-use NAT64 /64 of metadata
		{"64:ff9b:1:a9:fe:a9fe::", never},                 // local-use NAT64 /56 of metadata (RFC 6052 layout)
		{"64:ff9b:1:a9fe:a9:fe00:0:0", never},             // the /64 layout in full
		{"64:ff9b:1::5db8:d70e", private},                 // local-use NAT64 of a public address: a private network's gateway
		{"2001:0:a9fe:a9fe::5601:5601", never},            // Teredo with the metadata address as server
		{"2001:0:4136:e378:8000:63bf:5601:5601", never},   // Teredo with the metadata address as client (inverted)
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", private}, // Teredo with client 127.0.0.1
		{"169.254.169.254", never},                        // cloud metadata
		{"::ffff:169.254.169.254", never},
		{"64:ff9b::a9fe:a9fe", never}, // NAT64 of 169.254.169.254
		{"169.254.1.1", never},
		{"168.63.129.16", never}, // Azure WireServer
		{"fd00:ec2::254", never}, // AWS IMDS over IPv6
		{"fe80::1", never},
		{"fe80::1%eth0", never},
		{"0.0.0.0", never},
		{"0.1.2.3", never},
		{"::", never},
		{"::127.0.0.1", never}, // IPv4-compatible
		{"224.0.0.1", never},
		{"ff02::1", never},
		{"255.255.255.255", never},
		{"240.0.0.1", never},
		{"172.32.0.1", public},  // just outside 172.16/12
		{"100.128.0.1", public}, // just outside 100.64/10
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			a := netip.MustParseAddr(tc.addr)
			got := verdict{webhook.AddrAllowed(a, false), webhook.AddrAllowed(a, true)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("AddrAllowed(%s) (-want +got):\n%s", tc.addr, diff)
			}
		})
	}
	if webhook.AddrAllowed(netip.Addr{}, true) {
		t.Error("AddrAllowed(invalid address) = true")
	}
}

// TestRunGuardRefusesAtConnect dials a live loopback server through names and
// forms that all reach it, and checks the guard refuses each at connect time,
// before a byte is sent.
func TestRunGuardRefusesAtConnect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig

	tests := []struct {
		name    string
		url     string
		private bool // the tenant allows private connectors
	}{
		{"loopback", "https://127.0.0.1:" + port, false},
		{"a name resolving to loopback", "https://localhost:" + port, false},
		{"IPv4-mapped loopback", "https://[::ffff:127.0.0.1]:" + port, false},
		{"IPv6 loopback", "https://[::1]:" + port, false},
		{"unspecified", "https://0.0.0.0:" + port, false},
		{"cloud metadata", "https://169.254.169.254/metadata/instance", false},
		{"cloud metadata, private allowed", "https://169.254.169.254/metadata/instance", true},
		{"cloud metadata over http, private allowed", "http://169.254.169.254/latest/meta-data/", true},
		{"IPv4-mapped metadata, private allowed", "http://[::ffff:169.254.169.254]/", true},
		{"unspecified, private allowed", "https://0.0.0.0:" + port, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := connector(webhook.Options{TLSConfig: tlsConfig, AllowPrivate: func(string) bool { return tc.private }})
			_, err := c.Run(t.Context(), service(tc.url+"?token="+querySecret, secretOld), newCall(privacy.ActionErase))
			checkErrorText(t, err)
			e := webhookError(t, err)
			if e.Code != "address-not-allowed" || e.Temporary || !errors.Is(err, webhook.ErrAddressNotAllowed) ||
				!strings.HasSuffix(err.Error(), "connector address not allowed") {
				t.Errorf("Run(%s) error = %q (code %q), want permanent connector address not allowed", tc.url, err, e.Code)
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("the loopback server got %d requests, want 0", n)
		}
	})
}

func TestRunGuardLetsPrivateTenantsReachLoopback(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := webhook.New(webhook.Options{TLSConfig: tlsConfig, AllowPrivate: func(tenant string) bool { return tenant == "acme" }})
	svc := service(srv.URL, secretOld)

	call := newCall(privacy.ActionErase)
	if res, err := c.Run(t.Context(), svc, call); err != nil || res.Outcome != privacy.OutcomeNoData {
		t.Errorf("Run for a tenant allowing private connectors = %+v, %v; want no-data", res, err)
	}
	// The same connector refuses another tenant: the choice is per call.
	call.TenantID = "globex"
	if _, err := c.Run(t.Context(), svc, call); !errors.Is(err, webhook.ErrAddressNotAllowed) {
		t.Errorf("Run for a strict tenant = %v, want ErrAddressNotAllowed", err)
	}
}
