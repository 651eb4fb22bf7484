package enforce

import (
	"context"
	"errors"
	"fmt"
)

// Applier makes a plan true on a node.
//
// Implementations are idempotent: applying a plan twice changes nothing the
// second time, and applying a setup plan replaces what a force-deleted pod
// left behind. Setup plans are transactional: when Apply fails, what that
// call added is removed again and what it changed is restored (stale
// objects it purged stay purged), and the error says which step failed.
// Teardown plans are best effort: Apply removes everything it can and
// returns every failure.
type Applier interface {
	Apply(ctx context.Context, p *Plan) error
}

// Op is the kind of a Change.
type Op uint8

const (
	// OpAdd creates an object.
	OpAdd Op = iota
	// OpDelete removes an object.
	OpDelete
	// OpSet changes an existing object (a sysctl, a link's MAC or MTU, a
	// route's next hop, a chain's content).
	OpSet
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpDelete:
		return "delete"
	case OpSet:
		return "set"
	}
	return "Op(?)"
}

// Change is one step an applier takes. Object is one of VLANLink,
// VethPair, Addr, Neighbor, Route, IPRule, Sysctl, Chain, ChainRef,
// IPTablesRule, ConnmarkTable, NFTableRef or LinkRef.
type Change struct {
	Op     Op
	Object any
}

func (c Change) String() string {
	return c.Op.String() + " " + describe(c.Object)
}

func describe(o any) string {
	switch v := o.(type) {
	case VLANLink:
		return fmt.Sprintf("vlan link %s (vlan %d on %s, %s)", v.Name, v.VLANID, v.Parent, v.MAC)
	case VethPair:
		return fmt.Sprintf("veth %s (%s) <-> pod %s", v.HostName, v.HostMAC, v.PodName)
	case Addr:
		return fmt.Sprintf("%s address %s dev %s", v.NS, v.Prefix, v.Dev)
	case Neighbor:
		return fmt.Sprintf("%s neighbour %s lladdr %s dev %s", v.NS, v.IP, v.MAC, v.Dev)
	case Route:
		s := fmt.Sprintf("%s route %s", v.NS, routeDst(v.Dst))
		if v.Gw.IsValid() {
			s += " via " + v.Gw.String()
		}
		return s + " dev " + v.Dev + " table " + tableName(v.Table)
	case IPRule:
		if v.Family == IPv6 {
			return "ipv6 rule " + v.String()
		}
		return "rule " + v.String()
	case Sysctl:
		return fmt.Sprintf("%s sysctl %s=%s", v.NS, v.Key, v.Value)
	case Chain:
		return fmt.Sprintf("chain %s %s (%d rules)", v.Table, v.Name, len(v.Rules))
	case ChainRef:
		return fmt.Sprintf("chain %s %s", v.Table, v.Name)
	case IPTablesRule:
		return fmt.Sprintf("iptables -t %s %s %s", v.Table, v.Chain, shellJoin(v.Spec))
	case LinkRef:
		return fmt.Sprintf("%s link %s", v.NS, v.Name)
	case ConnmarkTable:
		return fmt.Sprintf("nftables table ip %s (connmark %#x of %s* but %d CIDRs)", v.Name, v.Mark, v.VethPrefix, len(v.Exempt))
	case NFTableRef:
		return fmt.Sprintf("nftables table %s %s", v.Family, v.Name)
	}
	return fmt.Sprintf("%v", o)
}

// StepError is returned by Apply when a step fails. It wraps the cause.
type StepError struct {
	Plan   string // "pod setup of default/web"
	Change Change
	Err    error
	// RollbackErr is set when undoing the earlier steps failed too.
	RollbackErr error
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("enforce: %s: %s: %v", e.Plan, e.Change, e.Err)
	if e.RollbackErr != nil {
		s += fmt.Sprintf(" (rolling back also failed: %v; apply the teardown plan to clean up)", e.RollbackErr)
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// String names the plan in messages: "node setup", "pod setup of
// default/web".
func (p *Plan) String() string {
	if p.Pod != "" {
		return p.Kind.String() + " of " + p.Pod
	}
	return p.Kind.String()
}

// Checker is implemented by an Applier that can tell, without changing
// anything, that it would refuse a plan (kernel.IPTables refuses a node plan
// built for the other iptables variant).
type Checker interface {
	Check(p *Plan) error
}

// Join returns an Applier that applies a plan with each applier in turn,
// for example a netlink applier for links, routes and rules and an iptables
// applier for NAT. It first asks every applier that is a Checker, so that a
// plan one of them refuses changes nothing; then it stops at the first
// error. Pod plans have no iptables parts, so each stays transactional; a
// node plan that fails half-way is made whole by applying it again.
func Join(appliers ...Applier) Applier { return joined(appliers) }

type joined []Applier

func (j joined) Apply(ctx context.Context, p *Plan) error {
	for _, a := range j {
		if c, ok := a.(Checker); ok {
			if err := c.Check(p); err != nil {
				return err
			}
		}
	}
	var errs []error
	for _, a := range j {
		if err := a.Apply(ctx, p); err != nil {
			if p.Kind != PodTeardown {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
