//go:build linux

package nlconv

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

func TestFamily(t *testing.T) {
	tests := []struct {
		addr string
		want int
	}{
		{"10.0.0.7", netlink.FAMILY_V4},
		{"::ffff:10.0.0.7", netlink.FAMILY_V4},
		{"2600:1f14:abc:de00::7", netlink.FAMILY_V6},
		{"fe80::1", netlink.FAMILY_V6},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Family(netip.MustParseAddr(tt.addr)), tt.addr)
	}
}

func TestPrefixAndIPNet(t *testing.T) {
	tests := []struct {
		name  string
		ipnet *net.IPNet
		want  netip.Prefix
		// back is IPNet(want): what netlink is given for the prefix.
		back *net.IPNet
	}{
		{"no prefix (a default route)", nil, netip.Prefix{}, nil},
		{"IPv4 in 4 bytes", &net.IPNet{IP: net.IPv4(10, 0, 0, 0).To4(), Mask: net.CIDRMask(19, 32)},
			netip.MustParsePrefix("10.0.0.0/19"), &net.IPNet{IP: net.IP{10, 0, 0, 0}, Mask: net.CIDRMask(19, 32)}},
		{"IPv4 in 16 bytes, as netlink reports it", &net.IPNet{IP: net.IPv4(10, 0, 0, 7), Mask: net.CIDRMask(32, 32)},
			netip.MustParsePrefix("10.0.0.7/32"), &net.IPNet{IP: net.IP{10, 0, 0, 7}, Mask: net.CIDRMask(32, 32)}},
		{"IPv6", &net.IPNet{IP: net.ParseIP("2600:1f14:abc:de00::7"), Mask: net.CIDRMask(128, 128)},
			netip.MustParsePrefix("2600:1f14:abc:de00::7/128"), &net.IPNet{IP: net.ParseIP("2600:1f14:abc:de00::7"), Mask: net.CIDRMask(128, 128)}},
		{"IPv6 default", &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
			netip.MustParsePrefix("::/0"), &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}},
		{"an address of neither 4 nor 16 bytes", &net.IPNet{IP: net.IP{10, 0, 0}, Mask: net.CIDRMask(24, 32)}, netip.Prefix{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prefix(tt.ipnet)
			require.Equal(t, tt.want, got)
			require.Empty(t, cmp.Diff(tt.back, IPNet(got)))
		})
	}
}

func TestSysctlPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"},
		{"net.ipv4.conf.eth0.rp_filter", "/proc/sys/net/ipv4/conf/eth0/rp_filter"},
		{"net.ipv4.conf.vlan/eth/3.rp_filter", "/proc/sys/net/ipv4/conf/vlan.eth.3/rp_filter"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, SysctlPath(tt.key), tt.key)
	}
}
