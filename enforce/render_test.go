package enforce_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/enforce"
)

func TestScriptStandardNode(t *testing.T) {
	b, err := enforce.NewBuilder(options(enforce.Standard))
	require.NoError(t, err)
	p := b.Node()
	cmds := p.Commands()
	var lines []string
	for _, c := range cmds {
		lines = append(lines, c.String())
	}
	require.Contains(t, lines, "ip rule del pref 0 lookup local 2>/dev/null || true")
	require.Contains(t, lines, "iptables -w -t nat -A AWS-SNAT-CHAIN-0 '!' -o vlan+ -m comment --comment 'AWS, SNAT' -m addrtype '!' --dst-type LOCAL -j SNAT --to-source 10.0.0.10 --random-fully")
	require.Contains(t, lines, "iptables -w -t nat -C POSTROUTING -m comment --comment 'AWS SNAT CHAIN' -j AWS-SNAT-CHAIN-0 2>/dev/null || iptables -w -t nat -A POSTROUTING -m comment --comment 'AWS SNAT CHAIN' -j AWS-SNAT-CHAIN-0")
	require.Contains(t, lines, "while ip rule del pref 20 lookup local 2>/dev/null; do :; done")
}
