package limits

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

//go:generate go run ./internal/gen -in data/instance-limits.tsv -out zz_generated_table.go

// ErrUnknownInstanceType is returned (wrapped) by Lookup when a table has no
// row for the requested instance type.
var ErrUnknownInstanceType = errors.New("unknown instance type")

// NetworkCard is one network card of an instance type and how many ENIs can be
// attached to it.
type NetworkCard struct {
	// Index is the card's network card index, as EC2 numbers them from 0.
	Index int `json:"index"`
	// MaxENIs is how many ENIs can be attached to this card.
	MaxENIs int `json:"maxENIs"`
}

// Limits are the networking limits of one EC2 instance type.
//
// Limits is a plain value; the zero Limits is not valid (see Validate for
// every rule a row must meet). Values returned by a Table share their
// NetworkCards slice with the table: treat it as read-only, and use Clone to
// get a private copy to change. A Limits that nobody modifies is safe for
// concurrent use.
type Limits struct {
	// InstanceType is the EC2 instance type, for example "m5.large".
	InstanceType string `json:"instanceType"`
	// MaxENIs is how many ENIs the instance can attach, all network cards
	// together. A trunk ENI counts against it.
	MaxENIs int `json:"maxENIs"`
	// IPv4PerENI is how many IPv4 addresses one ENI can hold, its primary
	// address included.
	IPv4PerENI int `json:"ipv4PerENI"`
	// TrunkingCompatible reports whether the type can host a trunk ENI and
	// therefore branch ENIs.
	TrunkingCompatible bool `json:"trunkingCompatible"`
	// MaxBranchENIs is how many branch ENIs (pods with their own security
	// groups) one node of this type can host. It is zero when the type is not
	// trunking-compatible.
	MaxBranchENIs int `json:"maxBranchENIs"`
	// DefaultNetworkCard is the index of the card whose ENIs the node uses by
	// default.
	DefaultNetworkCard int `json:"defaultNetworkCard"`
	// NetworkCards lists every network card with its ENI limit, by index.
	NetworkCards []NetworkCard `json:"networkCards"`
	// Hypervisor is HypervisorNitro or HypervisorXen, or empty for bare
	// metal.
	Hypervisor string `json:"hypervisor"`
	// BareMetal reports whether the type is a bare-metal type.
	BareMetal bool `json:"bareMetal"`
}

// Clone returns a copy of l that shares no memory with it.
func (l Limits) Clone() Limits {
	l.NetworkCards = slices.Clone(l.NetworkCards)
	return l
}

// DefaultCardENIs returns the ENI limit of the default network card, or zero
// when the card is not listed.
func (l Limits) DefaultCardENIs() int {
	for _, c := range l.NetworkCards {
		if c.Index == l.DefaultNetworkCard {
			return c.MaxENIs
		}
	}
	return 0
}

// MaxPods returns the ENI-based max-pods figure for a node of type l, the
// formula behind the EKS AMI's max-pods table when prefix delegation is off:
// the ENIs of the default network card times the secondary IPv4 addresses of
// each ENI (the primary address belongs to the ENI itself), plus two for the
// host-network pods every node runs (aws-node and kube-proxy).
//
//	MaxPods = DefaultCardENIs × (IPv4PerENI − 1) + 2
//
// For m5.large: 3 × (10 − 1) + 2 = 29. ENIs on other network cards are not
// counted, because the VPC CNI only allocates pod addresses on the default
// card. Pods with their own security groups are a separate budget, bounded by
// MaxBranchENIs. For Limits that fail Validate the result is at least 2.
func MaxPods(l Limits) int {
	enis := l.DefaultCardENIs()
	if enis <= 0 || l.IPv4PerENI <= 1 {
		return 2
	}
	return enis*(l.IPv4PerENI-1) + 2
}

// Hypervisor values found in Limits.Hypervisor. Bare-metal types have no
// hypervisor and use the empty string.
const (
	HypervisorNitro = "nitro"
	HypervisorXen   = "xen"
)

// MaxBranchENIsPerTrunk is the most branch ENIs one trunk ENI can carry: each
// branch ENI needs its own VLAN ID, and IDs 1 to 120 are available (0 is
// reserved). No instance type can have a larger MaxBranchENIs.
const MaxBranchENIsPerTrunk = 120

// Table is an immutable set of instance-type limits, indexed by type name.
// Build one with Default, then derive others with Table.WithOverrides; no
// method changes a Table, so a Table is safe for concurrent use and can be
// shared freely. The zero Table is an empty table, ready to use.
type Table struct {
	rows      []Limits // sorted by InstanceType, validated
	byName    map[string]int
	base      string // what the table was built from, for error messages
	overrides int    // how many override rows were applied on top of base
}

// newTable builds a table from rows that are already valid and distinct.
func newTable(rows []Limits, base string, overrides int) *Table {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b Limits) int { return strings.Compare(a.InstanceType, b.InstanceType) })
	t := &Table{rows: rows, byName: make(map[string]int, len(rows)), base: base, overrides: overrides}
	for i, r := range rows {
		t.byName[r.InstanceType] = i
	}
	return t
}

// source describes t for error messages: "built-in table", "built-in table
// with 3 overrides", "empty table".
func (t *Table) source() string {
	base := t.base
	if base == "" {
		base = "empty table"
	}
	switch t.overrides {
	case 0:
		return base
	case 1:
		return base + " with 1 override"
	default:
		return fmt.Sprintf("%s with %d overrides", base, t.overrides)
	}
}

var defaultTable = newTable(builtin, "built-in table", 0)

// Default returns the built-in table: 1,164 instance types generated from
// the embedded data file data/instance-limits.tsv, a snapshot of the VPC
// resource controller's table. It is the only source of branch-ENI counts,
// which no public EC2 API reports. Every call returns the same immutable
// *Table.
func Default() *Table { return defaultTable }

// Lookup returns the limits of instanceType. An unknown type gives an
// *UnknownTypeError, which matches ErrUnknownInstanceType. The lookup does not
// allocate; the returned value shares its NetworkCards with the table and
// must not be modified (see Limits.Clone).
func (t *Table) Lookup(instanceType string) (Limits, error) {
	if i, ok := t.byName[instanceType]; ok {
		return t.rows[i], nil
	}
	return Limits{}, &UnknownTypeError{InstanceType: instanceType, Source: t.source()}
}

// Len returns the number of instance types in t.
func (t *Table) Len() int { return len(t.rows) }

// All returns every row of t, sorted by instance type. The returned slice is
// a fresh copy the caller may reorder; the rows' NetworkCards are shared with
// the table and read-only.
func (t *Table) All() []Limits { return slices.Clone(t.rows) }

// Lookup returns the limits of instanceType from the built-in table.
// An unknown type gives an error matching ErrUnknownInstanceType whose message
// says how to supply an override.
func Lookup(instanceType string) (Limits, error) { return defaultTable.Lookup(instanceType) }

// UnknownTypeError is the error Lookup returns for a type the table lacks.
// It matches ErrUnknownInstanceType with errors.Is.
type UnknownTypeError struct {
	// InstanceType is the type that was looked up.
	InstanceType string
	// Source describes the table that lacks it, such as "built-in table" or
	// "built-in table with 2 overrides".
	Source string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("limits: instance type %q is not in the %s; if it is a new type, supply its limits "+
		"as an override (Go values passed to limits.WithOverrides, or an overrides file read with "+
		"limits.LoadOverrides), or derive them from DescribeInstanceTypes with package limits/ec2limits", e.InstanceType, e.Source)
}

// Is reports whether target is ErrUnknownInstanceType.
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownInstanceType }
