//go:build linux

package nlconv

import (
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Family is the netlink family of an address: netlink.FAMILY_V6 for an
// IPv6 address, netlink.FAMILY_V4 for an IPv4 one, IPv4-mapped IPv6
// addresses included.
func Family(a netip.Addr) int {
	if a.Is6() && !a.Is4In6() {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

// IPNet is p as netlink takes it, or nil for the zero Prefix (no
// destination, as in a default route).
func IPNet(p netip.Prefix) *net.IPNet {
	if !p.IsValid() {
		return nil
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Prefix is the prefix netlink reports as n, with an IPv4-mapped address
// unmapped (netlink gives IPv4 addresses in 16 bytes); it is the zero
// Prefix for nil (a default route) or an address of neither 4 nor 16
// bytes.
func Prefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits)
}

// SysctlPath is the file under /proc/sys of a kernel parameter in the
// spelling of enforce.Sysctl's Key: dots separate the levels, and a "/"
// stands for a dot inside an interface name, as in sysctl(8)
// ("net.ipv4.conf.vlan/eth/3.rp_filter" is
// /proc/sys/net/ipv4/conf/vlan.eth.3/rp_filter).
func SysctlPath(key string) string {
	return "/proc/sys/" + strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, key)
}
