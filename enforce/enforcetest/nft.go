package enforcetest

import (
	"slices"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
)

// fakeNFT models nftables: the tables the Fake's plans own.
type fakeNFT struct{ f *Fake }

func (n fakeNFT) TableExists(ref enforce.NFTableRef) (bool, error) {
	_, ok := n.f.nft[ref]
	return ok, nil
}

func (n fakeNFT) HasConnmarkTable(t enforce.ConnmarkTable) (bool, error) {
	cur, ok := n.f.nft[t.Ref()]
	return ok && cur.VethPrefix == t.VethPrefix && cur.Mark == t.Mark && apply.SameExempt(cur.Exempt, t.Exempt), nil
}

func (n fakeNFT) SetConnmarkTable(t enforce.ConnmarkTable) error {
	if t.Name == "" || t.VethPrefix == "" {
		return refuse("nftables table %q with veth prefix %q", t.Name, t.VethPrefix)
	}
	n.f.nft[t.Ref()] = cloneConnmark(t)
	return nil
}

func (n fakeNFT) DeleteTable(ref enforce.NFTableRef) error {
	if _, ok := n.f.nft[ref]; !ok {
		// nft answers ENOENT ("No such file or directory").
		return refuse("no nftables table %s %s", ref.Family, ref.Name)
	}
	delete(n.f.nft, ref)
	return nil
}

func cloneConnmark(t enforce.ConnmarkTable) enforce.ConnmarkTable {
	t.Exempt = slices.Clone(t.Exempt)
	return t
}
