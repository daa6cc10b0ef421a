package webhook

import (
	"errors"
	"net/netip"
	"syscall"
)

// ErrAddressNotAllowed is returned (wrapped) by a dial the SSRF guard refuses.
var ErrAddressNotAllowed = errors.New("connector address not allowed")

// Address ranges of the SSRF guard. The guard runs as the dialer's Control
// function, on the address actually being connected to after DNS resolution,
// so a name that resolves (or re-resolves, DNS rebinding) to a refused address
// is refused too. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as
// their IPv4 address; NAT64 and 6to4 addresses as the IPv4 address they embed.
var (
	// neverPrefixes are refused even for tenants allowed private connectors:
	// no service of a tenant lives there, and the cloud metadata and platform
	// endpoints hand out the operator's own credentials.
	neverPrefixes = prefixes(
		"0.0.0.0/8",          // "this network"; 0.0.0.0 dials the local host
		"169.254.0.0/16",     // IPv4 link-local, incl. 169.254.169.254 (Azure IMDS, AWS, GCP metadata)
		"168.63.129.16/32",   // Azure WireServer and platform DNS
		"100.100.100.200/32", // Alibaba Cloud metadata (inside CGNAT)
		"224.0.0.0/4",        // IPv4 multicast
		"240.0.0.0/4",        // reserved, incl. 255.255.255.255 broadcast
		"::/128",             // unspecified
		"::/96",              // deprecated IPv4-compatible IPv6 (::1 is allowed below as loopback)
		"fe80::/10",          // IPv6 link-local
		"fd00:ec2::254/128",  // AWS IMDS over IPv6 (inside fc00::/7)
		"ff00::/8",           // IPv6 multicast
	)
	// privatePrefixes are refused unless the tenant allows private
	// connectors (Tenant.AllowPrivateConnectors: services inside its own
	// network, or a developer's machine).
	privatePrefixes = prefixes(
		"127.0.0.0/8",     // loopback
		"10.0.0.0/8",      // RFC 1918
		"172.16.0.0/12",   // RFC 1918
		"192.168.0.0/16",  // RFC 1918
		"100.64.0.0/10",   // RFC 6598 shared address space (CGNAT)
		"192.0.0.0/24",    // IETF protocol assignments
		"198.18.0.0/15",   // benchmarking
		"::1/128",         // loopback
		"fc00::/7",        // unique local
		"fec0::/10",       // deprecated site-local
		"2001::/32",       // Teredo: the IPv4 address inside is obfuscated, so not checkable
		"64:ff9b:1::/48",  // local-use NAT64 (RFC 8215)
		"100::/64",        // discard-only
		"2001:db8::/32",   // documentation
		"2001:10::/28",    // deprecated ORCHID
		"2001:20::/28",    // ORCHIDv2
		"3fff::/20",       // documentation (RFC 9637)
		"5f00::/16",       // SRv6 SIDs (RFC 9602)
		"192.0.2.0/24",    // documentation
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
	)
	// nat64 (RFC 6052 well-known prefix) and sixTo4 (RFC 3056) addresses are
	// judged as the IPv4 address they embed.
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// AddrAllowed reports whether the SSRF guard lets a webhook call connect to
// addr. Public unicast addresses are allowed; loopback, private, shared (CGNAT)
// and special-purpose ones only when allowPrivate is set; link-local (cloud
// metadata), unspecified, multicast and broadcast ones never.
func AddrAllowed(addr netip.Addr, allowPrivate bool) bool {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return false
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return AddrAllowed(netip.AddrFrom4([4]byte(b[12:16])), allowPrivate)
	case sixTo4.Contains(addr):
		return AddrAllowed(netip.AddrFrom4([4]byte(b[2:6])), allowPrivate)
	}
	for _, p := range neverPrefixes {
		if p.Contains(addr) && addr != netip.IPv6Loopback() {
			return false
		}
	}
	if allowPrivate {
		return true
	}
	for _, p := range privatePrefixes {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// guard returns a net.Dialer Control function that refuses, with an error
// wrapping ErrAddressNotAllowed, any connection to an address AddrAllowed
// refuses, and any network but TCP.
func guard(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if network != "tcp4" && network != "tcp6" {
			return ErrAddressNotAllowed
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !AddrAllowed(ap.Addr(), allowPrivate) {
			return ErrAddressNotAllowed
		}
		return nil
	}
}
