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
	Index   int `json:"index"`
	MaxENIs int `json:"maxENIs"`
}

// Limits are the networking limits of one EC2 instance type.
//
// Limits is a plain value. Values returned by a Table share their NetworkCards
// slice with the table: treat it as read-only (use Clone to get a private
// copy).
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
	// Hypervisor is "nitro", "xen", or empty for bare metal.
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
// value the EKS AMI gives kubelet when prefix delegation is off: the ENIs of
// the default network card times the secondary IPv4 addresses of each ENI,
// plus two for host-network pods (aws-node and kube-proxy).
//
// For m5.large: 3 × (10 − 1) + 2 = 29.
func MaxPods(l Limits) int {
	enis := l.DefaultCardENIs()
	if enis <= 0 || l.IPv4PerENI <= 1 {
		return 2
	}
	return enis*(l.IPv4PerENI-1) + 2
}

// Table is an immutable set of instance-type limits, indexed by type name.
// A Table is safe for concurrent use.
type Table struct {
	rows   []Limits // sorted by InstanceType
	byName map[string]int
	source string // what built the table, for error messages
}

func newTable(rows []Limits, source string) *Table {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b Limits) int { return strings.Compare(a.InstanceType, b.InstanceType) })
	t := &Table{rows: rows, byName: make(map[string]int, len(rows)), source: source}
	for i, r := range rows {
		t.byName[r.InstanceType] = i
	}
	return t
}

var defaultTable = newTable(builtin, "built-in table")

// Default returns the built-in table, generated from the embedded copy of the
// VPC resource controller's instance-type data (see data/instance-limits.tsv).
func Default() *Table { return defaultTable }

// Lookup returns the limits of instanceType. An unknown type gives an error
// matching ErrUnknownInstanceType.
func (t *Table) Lookup(instanceType string) (Limits, error) {
	if i, ok := t.byName[instanceType]; ok {
		return t.rows[i], nil
	}
	return Limits{}, &UnknownTypeError{InstanceType: instanceType, Source: t.source}
}

// Len returns the number of instance types in t.
func (t *Table) Len() int { return len(t.rows) }

// All returns every row of t, sorted by instance type. The returned slice is
// a copy; the rows' NetworkCards are shared and read-only.
func (t *Table) All() []Limits { return slices.Clone(t.rows) }

// Lookup returns the limits of instanceType from the built-in table.
// An unknown type gives an error matching ErrUnknownInstanceType whose message
// says how to supply an override.
func Lookup(instanceType string) (Limits, error) { return defaultTable.Lookup(instanceType) }

// UnknownTypeError is the error Lookup returns for a type the table lacks.
// It matches ErrUnknownInstanceType with errors.Is.
type UnknownTypeError struct {
	InstanceType string
	Source       string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("limits: instance type %q is not in the %s; if it is a new type, supply its limits "+
		"as an override (limits.WithOverrides, or an overrides file loaded with limits.LoadOverrides), "+
		"or derive them from DescribeInstanceTypes with package limits/ec2limits", e.InstanceType, e.Source)
}

// Is reports whether target is ErrUnknownInstanceType.
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownInstanceType }
