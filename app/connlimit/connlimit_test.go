package connlimit

import (
	"net/netip"
	"testing"
)

// An IPv6 host picks any address of its /64, and an IPv4-mapped address is
// the IPv4 client: each counts as one client.
func TestClientsAreKeyedByIPv4AddressOrIPv6Slash64(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]string{
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"},
		{"::ffff:192.0.2.9", "192.0.2.9"},
		{"192.0.2.9", "192.0.2.9"},
	} {
		if got := clientKey(netip.MustParseAddr(c[0])); got != netip.MustParseAddr(c[1]) {
			t.Errorf("%s: key %s, want %s", c[0], got, c[1])
		}
	}
}
