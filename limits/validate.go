package limits

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidLimits is matched (errors.Is) by every validation error: a
// *FieldError, or a FieldErrors list of them.
var ErrInvalidLimits = errors.New("invalid instance-type limits")

// FieldError is one rule a row of limits breaks: which row, which field,
// the offending value and what to do about it. It matches ErrInvalidLimits.
type FieldError struct {
	// Where locates the row in its input: "overrides[2]" for the third
	// value passed to WithOverrides, "nodes.yaml: instanceTypes[2]" for the
	// third row of an overrides file, empty for Limits.Validate.
	Where string
	// InstanceType is the row's type as given; it may be empty.
	InstanceType string
	// Field is the path of the field inside the row, spelled as in the
	// overrides file format: "maxENIs", "networkCards[1].index".
	Field string
	// Value is the offending value; nil when the field is missing.
	Value any
	// Reason says what is wrong and how to fix it.
	Reason string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("limits: ")
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(" ")
	}
	if e.InstanceType != "" {
		fmt.Fprintf(&b, "(%s): ", e.InstanceType)
	} else {
		b.WriteString("(no instance type): ")
	}
	b.WriteString(e.Field)
	switch v := e.Value.(type) {
	case nil:
	case string:
		fmt.Fprintf(&b, " = %q", v)
	default:
		fmt.Fprintf(&b, " = %v", v)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is ErrInvalidLimits.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidLimits }

// FieldErrors lists every rule broken by one or more rows, in input order.
// Validation returns it (never empty) rather than stopping at the first
// problem. It matches ErrInvalidLimits, and errors.As finds each *FieldError
// in it.
type FieldErrors []*FieldError

func (e FieldErrors) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "limits: %d problems:", len(e))
	for _, fe := range e {
		b.WriteString("\n\t")
		b.WriteString(strings.TrimPrefix(fe.Error(), "limits: "))
	}
	return b.String()
}

// Unwrap returns the individual *FieldError values.
func (e FieldErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, fe := range e {
		errs[i] = fe
	}
	return errs
}

// err returns e as an error, or nil when e is empty.
func (e FieldErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Validate checks l against every rule below and returns nil or a
// FieldErrors listing all the rules it breaks:
//
//   - instanceType is required and has EC2's form family.size in lower case
//     (letters, digits and '-' on either side of one '.'), e.g. "m5.large".
//   - maxENIs is at least 1 (the primary ENI) and ipv4PerENI at least 1
//     (the ENI's primary address).
//   - maxBranchENIs is between 0 and MaxBranchENIsPerTrunk.
//   - A trunking-compatible type has at least one branch ENI, at least two
//     ENIs on its default network card (the primary ENI and the trunk), and
//     is not a Xen type; a type that is not trunking-compatible has zero
//     branch ENIs.
//   - networkCards lists at least one card; every index is non-negative and
//     appears once; every card's maxENIs is non-negative; the cards' maxENIs
//     add up to maxENIs.
//   - defaultNetworkCard is one of the listed cards, and that card allows at
//     least one ENI.
//   - A bare-metal type has no hypervisor (""); any other type has
//     HypervisorNitro or HypervisorXen.
//
// Every row of the built-in table passes.
func (l Limits) Validate() error { return l.validate("").err() }

func (l Limits) validate(where string) FieldErrors {
	var errs FieldErrors
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{
			Where: where, InstanceType: l.InstanceType, Field: field, Value: value,
			Reason: fmt.Sprintf(format, args...),
		})
	}

	if l.InstanceType == "" {
		bad("instanceType", l.InstanceType, "required; give the EC2 instance type, e.g. \"m5.large\"")
	} else if !validTypeName(l.InstanceType) {
		bad("instanceType", l.InstanceType, "not an EC2 instance type name: want family.size in lower case, e.g. \"m5.large\"")
	}
	if l.MaxENIs < 1 {
		bad("maxENIs", l.MaxENIs, "must be at least 1 (every instance has its primary ENI)")
	}
	if l.IPv4PerENI < 1 {
		bad("ipv4PerENI", l.IPv4PerENI, "must be at least 1 (every ENI has its primary address)")
	}

	switch {
	case l.MaxBranchENIs < 0:
		bad("maxBranchENIs", l.MaxBranchENIs, "must not be negative")
	case l.MaxBranchENIs > MaxBranchENIsPerTrunk:
		bad("maxBranchENIs", l.MaxBranchENIs, "exceeds %d, the VLAN IDs one trunk ENI offers", MaxBranchENIsPerTrunk)
	case l.TrunkingCompatible && l.MaxBranchENIs == 0:
		bad("maxBranchENIs", l.MaxBranchENIs, "a trunking-compatible type needs at least 1 branch ENI; "+
			"give the type's branch-ENI limit, or set trunkingCompatible to false")
	case !l.TrunkingCompatible && l.MaxBranchENIs > 0:
		bad("maxBranchENIs", l.MaxBranchENIs, "branch ENIs need trunking: set trunkingCompatible to true, "+
			"or maxBranchENIs to 0")
	}
	if l.TrunkingCompatible && l.Hypervisor == HypervisorXen {
		bad("trunkingCompatible", true, "Xen types cannot host a trunk ENI; only Nitro and bare-metal types can")
	}

	if len(l.NetworkCards) == 0 {
		bad("networkCards", nil, "required; list at least the default card, e.g. [{index: 0, maxENIs: %d}]", max(l.MaxENIs, 1))
	}
	sum, defaultFound := 0, false
	for i, c := range l.NetworkCards {
		if c.Index < 0 {
			bad(fmt.Sprintf("networkCards[%d].index", i), c.Index, "must not be negative")
		}
		for j := range i {
			if l.NetworkCards[j].Index == c.Index {
				bad(fmt.Sprintf("networkCards[%d].index", i), c.Index,
					"duplicate card index (networkCards[%d] has it too); give every card its own index", j)
				break
			}
		}
		if c.MaxENIs < 0 {
			bad(fmt.Sprintf("networkCards[%d].maxENIs", i), c.MaxENIs, "must not be negative")
		}
		sum += c.MaxENIs
		if c.Index == l.DefaultNetworkCard && !defaultFound {
			defaultFound = true
			if c.MaxENIs < 1 {
				bad(fmt.Sprintf("networkCards[%d].maxENIs", i), c.MaxENIs,
					"the default network card must allow at least 1 ENI (the primary ENI)")
			} else if l.TrunkingCompatible && c.MaxENIs < 2 {
				bad(fmt.Sprintf("networkCards[%d].maxENIs", i), c.MaxENIs,
					"a trunking-compatible type needs at least 2 ENIs on its default card (the primary ENI and the trunk)")
			}
		}
	}
	if len(l.NetworkCards) > 0 && sum != l.MaxENIs {
		bad("networkCards", nil, "the cards' maxENIs add up to %d, but maxENIs is %d; they must agree", sum, l.MaxENIs)
	}
	switch {
	case l.DefaultNetworkCard < 0:
		bad("defaultNetworkCard", l.DefaultNetworkCard, "must not be negative")
	case len(l.NetworkCards) > 0 && !defaultFound:
		bad("defaultNetworkCard", l.DefaultNetworkCard, "no card in networkCards has this index; add the card or fix the index")
	}

	switch {
	case l.BareMetal && l.Hypervisor != "":
		bad("hypervisor", l.Hypervisor, "a bare-metal type has no hypervisor: use \"\"")
	case !l.BareMetal && l.Hypervisor != HypervisorNitro && l.Hypervisor != HypervisorXen:
		bad("hypervisor", l.Hypervisor, "must be %q or %q (or \"\" with bareMetal true)", HypervisorNitro, HypervisorXen)
	}
	return errs
}

// validTypeName reports whether s looks like an EC2 instance type: one '.'
// with a non-empty run of [a-z0-9-] on each side.
func validTypeName(s string) bool {
	family, size, ok := strings.Cut(s, ".")
	if !ok || family == "" || size == "" {
		return false
	}
	for _, r := range family + size {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
