package apply

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/podsg/podsg/enforce"
)

// NFTBackend is what NFTWant and NFTPurge need: nftables through netlink
// (package enforce/kernel) or the in-memory model (package
// enforce/enforcetest).
type NFTBackend interface {
	// TableExists reports whether a table exists.
	TableExists(ref enforce.NFTableRef) (bool, error)
	// HasConnmarkTable reports whether the table exists with exactly the
	// chains and rules t describes (its return rules in any order).
	HasConnmarkTable(t enforce.ConnmarkTable) (bool, error)
	// SetConnmarkTable creates the table, or replaces what it holds, in one
	// transaction.
	SetConnmarkTable(t enforce.ConnmarkTable) error
	// DeleteTable deletes a table and all it holds.
	DeleteTable(ref enforce.NFTableRef) error
}

// NFTWant makes the nftables tables of p.Want true. Like IPTables it is
// idempotent but not transactional.
func NFTWant(ctx context.Context, be NFTBackend, p *enforce.Plan, step func(enforce.Change) error) error {
	for _, t := range p.Want.ConnmarkTables {
		ok, err := be.HasConnmarkTable(t)
		if err != nil {
			return &enforce.StepError{Plan: p.String(), Change: enforce.Change{Op: enforce.OpAdd, Object: t}, Err: err}
		}
		if ok {
			continue
		}
		c := enforce.Change{Op: enforce.OpAdd, Object: t}
		exists, err := be.TableExists(t.Ref())
		if err == nil && exists {
			c.Op = enforce.OpSet
		}
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = step(c)
		}
		if err == nil {
			err = be.SetConnmarkTable(t)
		}
		if err != nil {
			return &enforce.StepError{Plan: p.String(), Change: c, Err: err}
		}
	}
	return nil
}

// NFTPurge deletes the tables of p.Purge that p.Want does not list, and
// returns every failure.
func NFTPurge(ctx context.Context, be NFTBackend, p *enforce.Plan, step func(enforce.Change) error) error {
	var errs []error
	for _, ref := range p.Purge.NFTables {
		if slices.ContainsFunc(p.Want.ConnmarkTables, func(t enforce.ConnmarkTable) bool { return t.Ref() == ref }) {
			continue
		}
		c := enforce.Change{Op: enforce.OpDelete, Object: ref}
		exists, err := be.TableExists(ref)
		if err == nil && !exists {
			continue
		}
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = step(c)
		}
		if err == nil {
			err = be.DeleteTable(ref)
		}
		if err != nil {
			errs = append(errs, &enforce.StepError{Plan: p.String(), Change: c, Err: err})
		}
	}
	return errors.Join(errs...)
}

// SameExempt reports whether two lists hold the same CIDRs, in any order:
// the VPC CNI plugin inserts its return rules at the head of the chain, one
// by one, in no fixed order.
func SameExempt(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	less := func(x, y netip.Prefix) int {
		if c := x.Addr().Compare(y.Addr()); c != 0 {
			return c
		}
		return x.Bits() - y.Bits()
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, less)
	slices.SortFunc(b, less)
	return slices.Equal(a, b)
}
