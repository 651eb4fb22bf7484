//go:build linux

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
)

// The chains of the connmark table and the kernel's address type of a
// local address (RTN_LOCAL in linux/rtnetlink.h), as the VPC CNI plugin
// (v1.23, pkg/networkutils/nftables_connmark.go) uses them.
const (
	nftBaseChain = "nat-prerouting"
	nftMarkChain = "snat-mark"
	rtnLocal     = 2
)

// nftBackend programs nftables through netlink with
// github.com/google/nftables, the library the VPC CNI plugin uses, so that
// the expressions it writes are the plugin's to the byte (the nft command
// would encode a byte-aligned prefix such as 10.0.0.0/16 differently, and
// the plugin would take such a rule for a stranger's and replace it).
type nftBackend struct {
	conn *nftables.Conn
}

// nftTable is the kernel's name of a table of family ip.
func nftTable(name string) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: name}
}

func notExist(err error) bool {
	return errors.Is(err, unix.ENOENT) || err != nil && strings.Contains(err.Error(), "no such file or directory")
}

func (b nftBackend) TableExists(ref enforce.NFTableRef) (bool, error) {
	if ref.Family != "ip" {
		return false, fmt.Errorf("nftables family %q: only ip tables are supported", ref.Family)
	}
	_, err := b.conn.ListTableOfFamily(ref.Name, nftables.TableFamilyIPv4)
	if notExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list nftables table ip %s: %w", ref.Name, err)
	}
	return true, nil
}

func (b nftBackend) HasConnmarkTable(t enforce.ConnmarkTable) (bool, error) {
	tbl, err := b.conn.ListTableOfFamily(t.Name, nftables.TableFamilyIPv4)
	if notExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list nftables table ip %s: %w", t.Name, err)
	}
	chains, err := b.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("list nftables chains: %w", err)
	}
	var base, mark *nftables.Chain
	n := 0
	for _, c := range chains {
		if c.Table.Name != t.Name {
			continue
		}
		n++
		switch c.Name {
		case nftBaseChain:
			base = c
		case nftMarkChain:
			mark = c
		}
	}
	if n != 2 || base == nil || mark == nil || !isConnmarkBase(base) || mark.Hooknum != nil {
		return false, nil
	}
	want := connmarkRules(t)
	baseRules, err := b.conn.GetRules(tbl, base)
	if err != nil {
		return false, fmt.Errorf("list rules of %s: %w", nftBaseChain, err)
	}
	if len(baseRules) != 3 {
		return false, nil
	}
	for i, r := range baseRules {
		if exprsKey(r.Exprs) != exprsKey(want.base[i]) {
			return false, nil
		}
	}
	markRules, err := b.conn.GetRules(tbl, mark)
	if err != nil {
		return false, fmt.Errorf("list rules of %s: %w", nftMarkChain, err)
	}
	// The return rules in any order (the plugin inserts each at the head),
	// then the rule that sets the mark.
	if len(markRules) != len(want.mark) || exprsKey(markRules[len(markRules)-1].Exprs) != exprsKey(want.mark[len(want.mark)-1]) {
		return false, nil
	}
	have := map[string]int{}
	for _, r := range markRules[:len(markRules)-1] {
		have[exprsKey(r.Exprs)]++
	}
	for _, r := range want.mark[:len(want.mark)-1] {
		k := exprsKey(r)
		if have[k] == 0 {
			return false, nil
		}
		have[k]--
	}
	return true, nil
}

func isConnmarkBase(c *nftables.Chain) bool {
	return c.Type == nftables.ChainTypeNAT &&
		c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookPrerouting &&
		c.Priority != nil && *c.Priority == nftables.ChainPriority(enforce.ConnmarkPriority) &&
		c.Policy != nil && *c.Policy == nftables.ChainPolicyAccept
}

func (b nftBackend) SetConnmarkTable(t enforce.ConnmarkTable) error {
	exists, err := b.TableExists(t.Ref())
	if err != nil {
		return err
	}
	tbl := nftTable(t.Name)
	if exists {
		// Deleted and written again in the same transaction: nothing is
		// ever half there.
		b.conn.DelTable(tbl)
	}
	tbl = b.conn.AddTable(tbl)
	accept := nftables.ChainPolicyAccept
	base := b.conn.AddChain(&nftables.Chain{
		Name: nftBaseChain, Table: tbl, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(enforce.ConnmarkPriority), Policy: &accept,
	})
	mark := b.conn.AddChain(&nftables.Chain{Name: nftMarkChain, Table: tbl})
	rules := connmarkRules(t)
	for _, e := range rules.base {
		b.conn.AddRule(&nftables.Rule{Table: tbl, Chain: base, Exprs: e})
	}
	for _, e := range rules.mark {
		b.conn.AddRule(&nftables.Rule{Table: tbl, Chain: mark, Exprs: e})
	}
	if err := b.conn.Flush(); err != nil {
		return fmt.Errorf("write nftables table ip %s: %w", t.Name, err)
	}
	return nil
}

func (b nftBackend) DeleteTable(ref enforce.NFTableRef) error {
	b.conn.DelTable(nftTable(ref.Name))
	if err := b.conn.Flush(); err != nil && !notExist(err) {
		return fmt.Errorf("delete nftables table ip %s: %w", ref.Name, err)
	}
	return nil
}

var _ apply.NFTBackend = nftBackend{}

// connmarkExprs are the expressions of the table's rules, chain by chain.
type connmarkExprs struct {
	base, mark [][]expr.Any
}

// connmarkRules builds the rules of t with the VPC CNI plugin's
// expressions:
//
//	nat-prerouting: fib daddr type local return
//	                iifname "<prefix>*" counter jump snat-mark
//	                counter meta mark set ct mark & <mark>
//	snat-mark:      counter ip daddr <cidr> return   (one per exempt CIDR)
//	                counter ct mark set ct mark | <mark>
//
// Registers hold the mark in host byte order, addresses and masks in
// network byte order.
func connmarkRules(t enforce.ConnmarkTable) connmarkExprs {
	host := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	zero := []byte{0, 0, 0, 0}
	var r connmarkExprs
	r.base = [][]expr.Any{
		{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: host(rtnLocal)},
			&expr.Verdict{Kind: expr.VerdictReturn},
		},
		{
			// The prefix without a terminating NUL: the kernel compares
			// only len(Data) bytes of the name, which is what "eni*" means.
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(t.VethPrefix)},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: nftMarkChain},
		},
		{
			&expr.Counter{},
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: host(t.Mark), Xor: zero},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		},
	}
	for _, c := range t.Exempt {
		c = c.Masked()
		m := make([]byte, 4)
		for i := range c.Bits() {
			m[i/8] |= 0x80 >> (i % 8)
		}
		ip := c.Addr().As4()
		r.mark = append(r.mark, []expr.Any{
			&expr.Counter{},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: zero},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
			&expr.Verdict{Kind: expr.VerdictReturn},
		})
	}
	// ct mark = (ct mark & ^mark) ^ mark, that is ct mark | mark.
	r.mark = append(r.mark, []expr.Any{
		&expr.Counter{},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: host(^t.Mark), Xor: host(t.Mark)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true},
	})
	return r
}

// exprsKey renders a rule's expressions in a canonical text that ignores
// what the kernel fills in (counter values), so that a rule read back
// compares equal to the rule written.
func exprsKey(es []expr.Any) string {
	var b strings.Builder
	for _, e := range es {
		switch v := e.(type) {
		case *expr.Counter:
			b.WriteString("counter")
		case *expr.Meta:
			fmt.Fprintf(&b, "meta key=%d set=%v reg=%d", v.Key, v.SourceRegister, v.Register)
		case *expr.Cmp:
			fmt.Fprintf(&b, "cmp op=%d reg=%d data=%x", v.Op, v.Register, v.Data)
		case *expr.Payload:
			fmt.Fprintf(&b, "payload op=%d dreg=%d sreg=%d base=%d off=%d len=%d csum=%d", v.OperationType, v.DestRegister, v.SourceRegister, v.Base, v.Offset, v.Len, v.CsumType)
		case *expr.Bitwise:
			fmt.Fprintf(&b, "bitwise sreg=%d dreg=%d len=%d mask=%x xor=%x", v.SourceRegister, v.DestRegister, v.Len, v.Mask, v.Xor)
		case *expr.Ct:
			fmt.Fprintf(&b, "ct key=%d set=%v reg=%d", v.Key, v.SourceRegister, v.Register)
		case *expr.Verdict:
			fmt.Fprintf(&b, "verdict %d %s", v.Kind, v.Chain)
		case *expr.Fib:
			fmt.Fprintf(&b, "fib %+v", *v)
		default:
			fmt.Fprintf(&b, "%T %+v", e, e)
		}
		b.WriteString("; ")
	}
	return b.String()
}
