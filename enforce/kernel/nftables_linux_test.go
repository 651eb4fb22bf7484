//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/internal/netnstest"
)

// vpcCNIRule names a rule of table ip aws-cni the way the VPC CNI plugin
// (v1.23, pkg/networkutils/nftables_connmark.go) recognises its own rules
// when it reconciles the table; "stranger" is a rule it would delete and
// write again. The criteria are the plugin's: the same expressions, with
// the same registers, lengths and byte orders.
func vpcCNIRule(r *nftables.Rule, prefix string, mark uint32) string {
	host := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	has := map[string]bool{}
	var cidr string
	var mask net.IPMask
	var ip net.IP
	for _, e := range r.Exprs {
		switch v := e.(type) {
		case *expr.Counter:
			has["counter"] = true
		case *expr.Fib:
			has["fib"] = v.FlagDADDR && v.ResultADDRTYPE
		case *expr.Meta:
			has["iifname"] = has["iifname"] || v.Key == expr.MetaKeyIIFNAME && v.Register == 1 && !v.SourceRegister
			has["set fwmark"] = has["set fwmark"] || v.Key == expr.MetaKeyMARK && v.Register == 1 && v.SourceRegister
		case *expr.Cmp:
			switch {
			case v.Op == expr.CmpOpEq && v.Register == 1 && string(v.Data) == string(host(2)):
				has["local"] = true
			case v.Op == expr.CmpOpEq && v.Register == 1 && string(v.Data) == prefix:
				has["prefix"] = true
			}
			if v.Op == expr.CmpOpEq && v.Register == 1 && len(v.Data) == 4 {
				ip = net.IP(v.Data)
			}
		case *expr.Ct:
			if v.Key == expr.CtKeyMARK && v.Register == 1 {
				has[map[bool]string{false: "load ct", true: "store ct"}[v.SourceRegister]] = true
			}
		case *expr.Bitwise:
			ok := v.SourceRegister == 1 && v.DestRegister == 1 && v.Len == 4
			has["and mark"] = has["and mark"] || ok && string(v.Mask) == string(host(mark)) && string(v.Xor) == string(host(0))
			has["or mark"] = has["or mark"] || ok && string(v.Mask) == string(host(^mark)) && string(v.Xor) == string(host(mark))
			if ok && len(v.Mask) == 4 && string(v.Xor) == string(host(0)) {
				mask = net.IPMask(v.Mask)
			}
		case *expr.Payload:
			has["daddr"] = v.Base == expr.PayloadBaseNetworkHeader && v.Offset == 16 && v.Len == 4 && v.DestRegister == 1
		case *expr.Verdict:
			has["return"] = v.Kind == expr.VerdictReturn
			has["jump"] = v.Kind == expr.VerdictJump && v.Chain == "snat-mark"
		}
	}
	if ip != nil && mask != nil {
		ones, _ := mask.Size()
		cidr = fmt.Sprintf("%s/%d", ip, ones)
	}
	switch {
	case has["fib"] && has["local"] && has["return"]:
		return "fib daddr local return"
	case has["iifname"] && has["prefix"] && has["counter"] && has["jump"]:
		return "jump from " + prefix
	case has["counter"] && has["load ct"] && has["and mark"] && has["set fwmark"]:
		return "restore mark"
	case has["counter"] && has["daddr"] && has["return"] && cidr != "":
		return "return " + cidr
	case has["counter"] && has["load ct"] && has["or mark"] && has["store ct"]:
		return "set mark"
	}
	return "stranger"
}

// connmarkRulesNow lists the rules of the node's table, chain by chain, as
// the plugin names them.
func connmarkRulesNow(t *testing.T, tp *topo) (base, mark []string) {
	t.Helper()
	nft, done, err := tp.ipt(t).nftConn()
	require.NoError(t, err)
	defer done()
	tbl := nftTable(enforce.ConnmarkTableName)
	for _, c := range []struct {
		name string
		out  *[]string
	}{{nftBaseChain, &base}, {nftMarkChain, &mark}} {
		rules, err := nft.conn.GetRules(tbl, &nftables.Chain{Name: c.name, Table: tbl})
		require.NoError(t, err)
		for _, r := range rules {
			*c.out = append(*c.out, vpcCNIRule(r, "eni", 0x80))
		}
	}
	return base, mark
}

var nftCounters = regexp.MustCompile(`packets \d+ bytes \d+ `)

// TestKernelConnmarkTableAsVPCCNI checks the connmark table of an
// nf_tables node against the VPC CNI plugin: the same listing, rules the
// plugin takes for its own, no change when the plugin has ordered them its
// way, the plugin's iptables chain of older versions removed, and a plan
// for the other iptables variant refused.
func TestKernelConnmarkTableAsVPCCNI(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newTopo(t)
	require.True(t, tp.nft, "this test needs the nf_tables iptables in PATH (iptables --version: nf_tables)")
	ipt := tp.ipt(t)
	a := enforce.Join(tp.netlink(t), ipt)
	opts := enforce.Options{Mode: enforce.Standard, SNATExcludedCIDRs: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")}}

	// An older plugin left its iptables connmark chain behind.
	for _, args := range [][]string{
		{"-t", "nat", "-N", "AWS-CONNMARK-CHAIN-0"},
		{"-t", "nat", "-A", "AWS-CONNMARK-CHAIN-0", "-d", "10.0.0.0/16", "-m", "comment", "--comment", "AWS CONNMARK CHAIN", "-j", "RETURN"},
		{"-t", "nat", "-A", "PREROUTING", "-i", "eni+", "-m", "comment", "--comment", "AWS, outbound connections", "-j", "AWS-CONNMARK-CHAIN-0"},
		{"-t", "nat", "-A", "PREROUTING", "-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--restore-mark", "--mask", "0x80"},
	} {
		tp.node.run(t, append([]string{"iptables", "-w"}, args...)...)
	}

	// A plan for legacy iptables is refused, and changes nothing.
	before := tp.node.snapshot(t, true)
	legacy := opts
	legacy.TrunkLink, legacy.PrimaryInterface, legacy.PrimaryIP, legacy.VPCCIDRs = "eth1", "eth0", nodeIP, []netip.Prefix{vpcCIDR}
	b, err := enforce.NewBuilder(legacy)
	require.NoError(t, err)
	p := b.Node()
	err = a.Apply(t.Context(), &p)
	require.ErrorIs(t, err, ErrIPTablesVariant)
	require.ErrorContains(t, err, "enforce.Options.NFTables = true")
	require.Equal(t, before, tp.node.snapshot(t, true))

	node := tp.builderWith(t, opts).Node()
	mustApply(t, a, node)
	listing := tp.node.run(t, "nft", "list", "table", "ip", "aws-cni")
	require.Equal(t, `table ip aws-cni {
	chain nat-prerouting {
		type nat hook prerouting priority dstnat + 10; policy accept;
		fib daddr type local return
		iifname "eni*" counter jump snat-mark
		counter meta mark set ct mark & 0x00000080
	}

	chain snat-mark {
		counter ip daddr 10.0.0.0/16 return
		counter ip daddr 172.16.0.0/12 return
		counter ct mark set ct mark | 0x00000080
	}
}
`, nftCounters.ReplaceAllString(listing, ""), "the plugin's table, as nft lists it")
	base, mark := connmarkRulesNow(t, tp)
	require.Equal(t, []string{"fib daddr local return", "jump from eni", "restore mark"}, base, "rules the plugin takes for its own, in its order")
	require.Equal(t, []string{"return 10.0.0.0/16", "return 172.16.0.0/12", "set mark"}, mark)
	saved := tp.node.run(t, "iptables-save", "-t", "nat")
	require.NotContains(t, saved, "AWS-CONNMARK-CHAIN-0", "the older plugin's iptables chain and its jump are gone")
	require.NotContains(t, saved, "AWS, CONNMARK")

	// The plugin writes its return rules at the head of the chain one by
	// one: the same rules in another order are the same table.
	nft, done, err := ipt.nftConn()
	require.NoError(t, err)
	tbl := nftTable("aws-cni")
	markChain := &nftables.Chain{Name: nftMarkChain, Table: tbl}
	nft.conn.FlushChain(markChain)
	want := connmarkRules(node.Want.ConnmarkTables[0])
	nft.conn.AddRule(&nftables.Rule{Table: tbl, Chain: markChain, Exprs: want.mark[len(want.mark)-1]})
	for _, e := range want.mark[:len(want.mark)-1] {
		nft.conn.InsertRule(&nftables.Rule{Table: tbl, Chain: markChain, Exprs: e})
	}
	require.NoError(t, nft.conn.Flush())
	done()
	_, mark = connmarkRulesNow(t, tp)
	require.Equal(t, []string{"return 172.16.0.0/12", "return 10.0.0.0/16", "set mark"}, mark)
	var changes []enforce.Change
	ipt.beforeChange = func(c enforce.Change) error { changes = append(changes, c); return nil }
	mustApply(t, a, node)
	require.Empty(t, changes, "nothing to change in the plugin's order")

	// A rule of someone else in the table is replaced.
	nft, done, err = ipt.nftConn()
	require.NoError(t, err)
	nft.conn.AddRule(&nftables.Rule{Table: tbl, Chain: markChain, Exprs: []expr.Any{&expr.Counter{}}})
	require.NoError(t, nft.conn.Flush())
	done()
	mustApply(t, a, node)
	require.Len(t, changes, 1)
	require.Equal(t, enforce.Change{Op: enforce.OpSet, Object: node.Want.ConnmarkTables[0]}, changes[0])
	_, mark = connmarkRulesNow(t, tp)
	require.Equal(t, []string{"return 10.0.0.0/16", "return 172.16.0.0/12", "set mark"}, mark)
	ipt.beforeChange = nil

	// External SNAT: no connection marks, in either form.
	ext := opts
	ext.ExternalSNAT = true
	mustApply(t, a, tp.builderWith(t, ext).Node())
	require.Equal(t, "no table ip aws-cni\n", tp.node.run(t, "sh", "-c", "nft list table ip aws-cni 2>/dev/null || echo no table ip aws-cni"))
	require.NotContains(t, tp.node.run(t, "iptables-save", "-t", "nat"), "CONNMARK")
}

// TestKernelConnmarkLegacy checks a legacy-iptables node: the connmark
// chain in iptables, a table aws-cni left by an nf_tables setup removed (as
// the plugin removes it), and an nftables plan refused.
func TestKernelConnmarkLegacy(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newTopoWith(t, iptablesVariants[1].path)
	require.False(t, tp.nft)
	a := tp.applier(t)
	tp.node.run(t, "nft", "add table ip aws-cni; add chain ip aws-cni snat-mark")

	nftNode := enforce.Options{Mode: enforce.Standard, NFTables: true, TrunkLink: "eth1", PrimaryInterface: "eth0", PrimaryIP: nodeIP, VPCCIDRs: []netip.Prefix{vpcCIDR}}
	b, err := enforce.NewBuilder(nftNode)
	require.NoError(t, err)
	p := b.Node()
	err = a.Apply(t.Context(), &p)
	require.ErrorIs(t, err, ErrIPTablesVariant)
	require.ErrorContains(t, err, "legacy")

	mustApply(t, a, tp.builder(t, enforce.Standard, false).Node())
	require.Equal(t, "no table ip aws-cni\n", tp.node.run(t, "sh", "-c", "nft list table ip aws-cni 2>/dev/null || echo no table ip aws-cni"))
	saved := tp.node.run(t, "iptables-legacy-save", "-t", "nat")
	require.Contains(t, saved, `-A AWS-CONNMARK-CHAIN-0 -d 10.0.0.0/16 -m comment --comment "AWS CONNMARK CHAIN" -j RETURN`)
	require.Contains(t, saved, `-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0`)
}
