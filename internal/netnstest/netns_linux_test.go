//go:build linux

package netnstest

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// TestNetNS checks what the tests built on NetNS rely on: each namespace is
// new and apart from the test process's, Do and Sysctl act inside it and
// nowhere else, and Snapshot shows what was changed there.
func TestNetNS(t *testing.T) {
	RequireRoot(t)
	own, err := netns.Get()
	require.NoError(t, err)
	defer own.Close()
	ownForward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)

	a, b := NewNetNS(t), NewNetNS(t)
	require.False(t, a.Handle().Equal(own), "a new namespace is not the test process's")
	require.False(t, a.Handle().Equal(b.Handle()), "two namespaces are apart")

	lo, err := a.NL.LinkByName("lo")
	require.NoError(t, err)
	require.NotZero(t, lo.Attrs().Flags&net.FlagUp, "lo is up")

	var inside netns.NsHandle
	require.NoError(t, a.Do(func() error {
		var err error
		inside, err = netns.Get()
		return err
	}))
	defer inside.Close()
	require.True(t, inside.Equal(a.Handle()), "Do runs in the namespace")
	now, err := netns.Get()
	require.NoError(t, err)
	defer now.Close()
	require.True(t, now.Equal(own), "the test process's namespace is unchanged")

	want := "1"
	if strings.TrimSpace(string(ownForward)) == "1" {
		want = "0"
	}
	require.NoError(t, a.Sysctl("net.ipv4.ip_forward", want))
	var got []byte
	require.NoError(t, a.Do(func() error {
		var err error
		got, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		return err
	}))
	require.Equal(t, want+"\n", string(got), "Sysctl sets the namespace's parameter")
	after, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	require.Equal(t, string(ownForward), string(after), "Sysctl leaves the test process's namespace alone")

	before, err := a.Snapshot()
	require.NoError(t, err)
	require.NoError(t, a.AddAddr("lo", "192.0.2.1/32"))
	changed, err := a.Snapshot()
	require.NoError(t, err)
	require.NotEqual(t, before, changed)
	require.Contains(t, changed, "addr lo 192.0.2.1/32")
	other, err := b.Snapshot()
	require.NoError(t, err)
	require.NotContains(t, other, "192.0.2.1", "the other namespace does not see the address")

	// An IPv6 address keeps its prefix length and is usable at once.
	require.NoError(t, a.AddAddr("lo", "2001:db8::1/128"))
	v6, err := a.SnapshotFamily(netlink.FAMILY_V6)
	require.NoError(t, err)
	require.Contains(t, v6, "addr lo 2001:db8::1/128")

	a.Close()
	require.False(t, a.Handle().IsOpen(), "Close releases the namespace")
	a.Close() // again, as the test's cleanup will
}
