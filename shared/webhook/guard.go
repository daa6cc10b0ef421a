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
// is refused too. IPv4-mapped (::ffff:a.b.c.d) and IPv4-translated
// (::ffff:0:a.b.c.d) addresses are judged as their IPv4 address; NAT64, 6to4
// and Teredo addresses as every IPv4 address they embed, so that no IPv6 form
// of a refused IPv4 address gets through.
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
		"2001::/32",       // Teredo (RFC 4380): a tunnel, never a tenant's service; its IPv4 addresses are judged too
		"64:ff9b:1::/48",  // local-use NAT64 (RFC 8215); its embedded IPv4 address is judged too
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
	// nat64 (RFC 6052 well-known prefix), sixTo4 (RFC 3056) and translated
	// (RFC 2765 SIIT) addresses are judged as the IPv4 address they embed.
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4     = netip.MustParsePrefix("2002::/16")
	translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	// nat64Local (RFC 8215) is a network's own NAT64 prefix, of any RFC 6052
	// length from /48 to /96, so where its IPv4 address sits is unknown: every
	// place it may sit is judged. teredo (RFC 4380) embeds the Teredo server's
	// IPv4 address and the client's, the latter inverted.
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	teredo     = netip.MustParsePrefix("2001::/32")
)

// embedded returns the IPv4 addresses an IPv6 address embeds, and whether it
// is of a form that embeds any.
func embedded(addr netip.Addr) ([]netip.Addr, bool) {
	b := addr.As16()
	v4 := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	switch {
	case nat64.Contains(addr), translated.Contains(addr):
		return []netip.Addr{v4(12, 13, 14, 15)}, true
	case sixTo4.Contains(addr):
		return []netip.Addr{v4(2, 3, 4, 5)}, true
	case nat64Local.Contains(addr):
		// RFC 6052 §2.2: the IPv4 address skips bits 64-71 (the "u" octet).
		// A place holding 0.x.x.x is the zero padding of a longer prefix, not
		// an address a NAT64 translates to.
		var out []netip.Addr
		for _, a := range []netip.Addr{v4(6, 7, 9, 10), v4(7, 9, 10, 11), v4(9, 10, 11, 12), v4(12, 13, 14, 15)} {
			if a.As4()[0] != 0 {
				out = append(out, a)
			}
		}
		return out, true
	case teredo.Contains(addr):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return []netip.Addr{v4(4, 5, 6, 7), client}, true
	}
	return nil, false
}

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
	if v4s, ok := embedded(addr); ok {
		for _, v4 := range v4s {
			if !AddrAllowed(v4, allowPrivate) {
				return false
			}
		}
		if nat64.Contains(addr) || sixTo4.Contains(addr) || translated.Contains(addr) {
			return true // judged as its IPv4 address alone
		}
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
