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

func TestScriptConnmarkTable(t *testing.T) {
	o := options(enforce.Standard)
	o.NFTables = true
	b, err := enforce.NewBuilder(o)
	require.NoError(t, err)
	p := b.Node()
	var nft []string
	for _, c := range p.Commands() {
		if c.Args[0] == "nft" {
			nft = append(nft, c.String())
		}
	}
	require.Equal(t, []string{
		"nft add table ip aws-cni",
		"nft 'add chain ip aws-cni nat-prerouting { type nat hook prerouting priority -90; policy accept; }'",
		"nft add chain ip aws-cni snat-mark",
		"nft flush chain ip aws-cni nat-prerouting",
		"nft flush chain ip aws-cni snat-mark",
		"nft add rule ip aws-cni nat-prerouting fib daddr type local return",
		"nft add rule ip aws-cni nat-prerouting iifname 'eni*' counter jump snat-mark",
		"nft add rule ip aws-cni nat-prerouting counter meta mark set ct mark and 0x80",
		"nft add rule ip aws-cni snat-mark counter ip daddr 10.0.0.0/16 return",
		"nft add rule ip aws-cni snat-mark counter ct mark set ct mark or 0x80",
	}, nft)

	// On a legacy node, or with external SNAT, the table goes.
	o.NFTables, o.ExternalSNAT = false, true
	b, err = enforce.NewBuilder(o)
	require.NoError(t, err)
	p = b.Node()
	var lines []string
	for _, c := range p.Commands() {
		lines = append(lines, c.String())
	}
	require.Contains(t, lines, "nft delete table ip aws-cni 2>/dev/null || true")
}
