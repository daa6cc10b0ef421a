package privacy

import (
	"net/netip"
	"strconv"
	"strings"
)

// ValidHost reports whether host (url.URL.Host: a name or address, with an
// optional port) names a webhook service in a form that can be dialled as
// written: an IP address in its standard form (IPv6 in brackets, no zone),
// or a DNS name of letters, digits and hyphens (internationalised names in
// their xn-- form) whose last label is not a number.
//
// Anything else is refused when the service is configured, and a stored one
// fails its task at once: a host such as 2130706433, 0x7f000001 or 127.1 is
// not a name DNS will ever answer, but the resolver would try, and every
// failed lookup would be retried until the deadline budget ran out.
func ValidHost(host string) bool {
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return false
		}
	}
	if strings.HasPrefix(name, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
		return err == nil && strings.HasSuffix(name, "]") && a.Is6() && a.Zone() == ""
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Is4()
	}
	return validDNSName(name)
}

func validDNSName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// RFC 3696 §2: a top-level domain is not all-numeric, which is what tells
	// a name from a shortened or decimal IPv4 address (127.1, 2130706433). A
	// hexadecimal one (0x7f000001) is refused for the same reason.
	last := strings.ToLower(labels[len(labels)-1])
	if strings.Trim(last, "0123456789") == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return false
	}
	return true
}
