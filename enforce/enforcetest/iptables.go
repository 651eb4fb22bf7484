package enforcetest

import (
	"slices"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
)

// fakeIPT models iptables: owned chains and built-in chains.
type fakeIPT struct{ f *Fake }

func builtinChain(table, chain string) bool {
	switch chain {
	case "PREROUTING", "POSTROUTING", "INPUT", "OUTPUT", "FORWARD":
		return table == "nat" || table == "mangle" || table == "filter" || table == "raw"
	}
	return false
}

func (t fakeIPT) rulesOf(table, chain string) ([][]string, bool) {
	ref := enforce.ChainRef{Table: table, Name: chain}
	if builtinChain(table, chain) {
		return t.f.builtin[ref], true
	}
	r, ok := t.f.chains[ref]
	return r, ok
}

func (t fakeIPT) setRules(table, chain string, rs [][]string) {
	ref := enforce.ChainRef{Table: table, Name: chain}
	if builtinChain(table, chain) {
		if len(rs) == 0 {
			delete(t.f.builtin, ref)
		} else {
			t.f.builtin[ref] = rs
		}
		return
	}
	t.f.chains[ref] = rs
}

func (t fakeIPT) ChainExists(table, chain string) (bool, error) {
	_, ok := t.rulesOf(table, chain)
	return ok, nil
}

func (t fakeIPT) NewChain(table, chain string) error {
	if _, ok := t.rulesOf(table, chain); ok {
		return refuse("chain %s %s exists", table, chain)
	}
	t.f.chains[enforce.ChainRef{Table: table, Name: chain}] = [][]string{}
	return nil
}

func (t fakeIPT) RuleCount(table, chain string) (int, error) {
	rs, ok := t.rulesOf(table, chain)
	if !ok {
		return 0, refuse("no chain %s %s", table, chain)
	}
	return len(rs), nil
}

func (t fakeIPT) Exists(table, chain string, spec []string) (bool, error) {
	rs, ok := t.rulesOf(table, chain)
	if !ok {
		return false, refuse("no chain %s %s", table, chain)
	}
	return slices.ContainsFunc(rs, func(r []string) bool { return slices.Equal(r, spec) }), nil
}

func (t fakeIPT) AppendRule(table, chain string, spec []string) error {
	rs, ok := t.rulesOf(table, chain)
	if !ok {
		return refuse("no chain %s %s", table, chain)
	}
	if j := apply.JumpTarget(spec); j != "" && !apply.BuiltinTarget(j) {
		if _, ok := t.f.chains[enforce.ChainRef{Table: table, Name: j}]; !ok {
			return refuse("chain %s %s jumps to missing chain %s", table, chain, j)
		}
	}
	t.setRules(table, chain, append(slices.Clone(rs), slices.Clone(spec)))
	return nil
}

func (t fakeIPT) DeleteRule(table, chain string, spec []string) error {
	rs, _ := t.rulesOf(table, chain)
	i := slices.IndexFunc(rs, func(r []string) bool { return slices.Equal(r, spec) })
	if i < 0 {
		return refuse("no such rule in %s %s", table, chain)
	}
	t.setRules(table, chain, slices.Delete(slices.Clone(rs), i, i+1))
	return nil
}

func (t fakeIPT) ClearChain(table, chain string) error {
	if _, ok := t.rulesOf(table, chain); !ok {
		return refuse("no chain %s %s", table, chain)
	}
	t.setRules(table, chain, [][]string{})
	return nil
}

func (t fakeIPT) DeleteChain(table, chain string) error {
	for ref, rs := range t.f.builtin {
		for _, r := range rs {
			if ref.Table == table && apply.JumpTarget(r) == chain {
				return refuse("chain %s %s is still referenced from %s", table, chain, ref.Name)
			}
		}
	}
	for ref, rs := range t.f.chains {
		for _, r := range rs {
			if ref.Table == table && apply.JumpTarget(r) == chain {
				return refuse("chain %s %s is still referenced from %s", table, chain, ref.Name)
			}
		}
	}
	delete(t.f.chains, enforce.ChainRef{Table: table, Name: chain})
	return nil
}
