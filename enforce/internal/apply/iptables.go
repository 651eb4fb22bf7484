package apply

import (
	"context"
	"errors"
	"strings"

	"github.com/podsg/podsg/enforce"
)

// IPTablesBackend is what IPTables needs: go-iptables (package
// enforce/kernel) or the in-memory model (package enforce/enforcetest).
type IPTablesBackend interface {
	ChainExists(table, chain string) (bool, error)
	NewChain(table, chain string) error
	// ruleCount is the number of rules in a chain.
	RuleCount(table, chain string) (int, error)
	Exists(table, chain string, spec []string) (bool, error)
	AppendRule(table, chain string, spec []string) error
	DeleteRule(table, chain string, spec []string) error
	ClearChain(table, chain string) error
	DeleteChain(table, chain string) error
}

// IPTables applies the iptables part of p. It is idempotent but not
// transactional: on failure, applying the plan again completes it.
func IPTables(ctx context.Context, be IPTablesBackend, p *enforce.Plan, step func(enforce.Change) error) error {
	var errs []error
	wrap := func(c enforce.Change, err error) error {
		return &enforce.StepError{Plan: p.String(), Change: c, Err: err}
	}
	do := func(c enforce.Change, f func() error) error {
		if err := ctx.Err(); err != nil {
			return wrap(c, err)
		}
		if err := step(c); err != nil {
			return wrap(c, err)
		}
		if err := f(); err != nil {
			return wrap(c, err)
		}
		return nil
	}
	for _, ch := range p.Want.Chains {
		ok, err := be.ChainExists(ch.Table, ch.Name)
		if err != nil {
			return wrap(enforce.Change{Op: enforce.OpAdd, Object: ch}, err)
		}
		if ok {
			same, err := chainHas(be, ch)
			if err != nil {
				return wrap(enforce.Change{Op: enforce.OpSet, Object: ch}, err)
			}
			if same {
				continue
			}
		}
		op := enforce.OpSet
		if !ok {
			op = enforce.OpAdd
		}
		if err := do(enforce.Change{Op: op, Object: ch}, func() error {
			if !ok {
				if err := be.NewChain(ch.Table, ch.Name); err != nil {
					return err
				}
			} else if err := be.ClearChain(ch.Table, ch.Name); err != nil {
				return err
			}
			for _, spec := range ch.Rules {
				if err := be.AppendRule(ch.Table, ch.Name, spec); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// Rules in built-in chains: when one of a chain's rules is missing,
	// re-append them all so that their relative order holds.
	for _, group := range groupByChain(p.Want.IPTables) {
		missing := false
		present := make([]bool, len(group))
		for i, r := range group {
			ok, err := be.Exists(r.Table, r.Chain, r.Spec)
			if err != nil {
				return wrap(enforce.Change{Op: enforce.OpAdd, Object: r}, err)
			}
			present[i] = ok
			missing = missing || !ok
		}
		if !missing {
			continue
		}
		for i, r := range group {
			if present[i] {
				if err := do(enforce.Change{Op: enforce.OpDelete, Object: r}, func() error { return be.DeleteRule(r.Table, r.Chain, r.Spec) }); err != nil {
					return err
				}
			}
		}
		for _, r := range group {
			if err := do(enforce.Change{Op: enforce.OpAdd, Object: r}, func() error { return be.AppendRule(r.Table, r.Chain, r.Spec) }); err != nil {
				return err
			}
		}
	}
	for _, r := range p.Purge.IPTables {
		// A rule that jumps to a missing chain cannot exist (and iptables
		// refuses to check for it).
		if j := JumpTarget(r.Spec); j != "" && !BuiltinTarget(j) {
			if ok, err := be.ChainExists(r.Table, j); err == nil && !ok {
				continue
			}
		}
		for {
			ok, err := be.Exists(r.Table, r.Chain, r.Spec)
			if err != nil {
				errs = append(errs, wrap(enforce.Change{Op: enforce.OpDelete, Object: r}, err))
				break
			}
			if !ok {
				break
			}
			if err := do(enforce.Change{Op: enforce.OpDelete, Object: r}, func() error { return be.DeleteRule(r.Table, r.Chain, r.Spec) }); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	for _, c := range p.Purge.Chains {
		ok, err := be.ChainExists(c.Table, c.Name)
		if err != nil {
			errs = append(errs, wrap(enforce.Change{Op: enforce.OpDelete, Object: c}, err))
			continue
		}
		if !ok {
			continue
		}
		if err := do(enforce.Change{Op: enforce.OpDelete, Object: c}, func() error {
			if err := be.ClearChain(c.Table, c.Name); err != nil {
				return err
			}
			return be.DeleteChain(c.Table, c.Name)
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func chainHas(be IPTablesBackend, ch enforce.Chain) (bool, error) {
	n, err := be.RuleCount(ch.Table, ch.Name)
	if err != nil || n != len(ch.Rules) {
		return false, err
	}
	for _, spec := range ch.Rules {
		ok, err := be.Exists(ch.Table, ch.Name, spec)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func groupByChain(rs []enforce.IPTablesRule) [][]enforce.IPTablesRule {
	var out [][]enforce.IPTablesRule
	index := map[[2]string]int{}
	for _, r := range rs {
		k := [2]string{r.Table, r.Chain}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// JumpTarget returns the target of an iptables rule's "-j", or "".
func JumpTarget(spec []string) string {
	for i := 0; i+1 < len(spec); i++ {
		if spec[i] == "-j" {
			return spec[i+1]
		}
	}
	return ""
}

// BuiltinTarget reports whether an iptables target is built in (RETURN,
// SNAT, CONNMARK, ...) rather than a chain.
func BuiltinTarget(t string) bool {
	return t == strings.ToUpper(t) && !strings.Contains(t, "-")
}
