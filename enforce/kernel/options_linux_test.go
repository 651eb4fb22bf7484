//go:build linux

package kernel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		new  func() error
		want string
	}{
		{"netlink relative netns", func() error { _, err := NewNetlink(NetlinkOptions{HostNetNS: "netns/node"}); return err },
			`NetlinkOptions.HostNetNS = "netns/node": want the absolute path`},
		{"netlink missing netns", func() error { _, err := NewNetlink(NetlinkOptions{HostNetNS: "/nonexistent/netns"}); return err },
			`NetlinkOptions.HostNetNS = "/nonexistent/netns"`},
		{"iptables relative netns", func() error { _, err := NewIPTables(IPTablesOptions{HostNetNS: "node"}); return err },
			`IPTablesOptions.HostNetNS = "node"`},
		{"iptables path", func() error { _, err := NewIPTables(IPTablesOptions{Path: "/nonexistent/iptables"}); return err },
			`IPTablesOptions.Path = "/nonexistent/iptables"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.new()
			require.ErrorIs(t, err, ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
	nl, err := NewNetlink(NetlinkOptions{HostNetNS: "/proc/self/ns/net"})
	require.NoError(t, err)
	require.NotNil(t, nl)
}
