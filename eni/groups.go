package eni

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/podsg/podsg/internal/awsid"
)

// GroupSet is a set of EC2 security-group IDs without duplicates that also
// remembers the order it was given in: the order in which the groups are
// sent to EC2 when a branch ENI is created or retargeted for it. The VPC
// resource controller sends a pod's groups in policy order
// (selector.Result.Groups); so does podsg.
//
// Two GroupSets are == when they hold the same groups in the same order;
// Equal compares the members only. Canonical returns the set in ascending
// order, which is == for any two sets with the same members: a Pool keys its
// ENIs by it, so an ENI created for [sg-b sg-a] serves a pod that wants
// [sg-a sg-b] without any EC2 call (EC2 treats an interface's groups as a
// set). Use Canonical for map keys that stand for a set of groups.
//
// The zero GroupSet is the empty set. A GroupSet is an immutable value and
// safe for concurrent use.
type GroupSet struct {
	// key holds the members sorted and joined by commas: the set's
	// identity.
	key string
	// order holds the members in the order given, joined by commas, when
	// that differs from key; "" when the order is ascending.
	order string
}

// ParseGroupSet returns the set of the given security-group IDs, each "sg-"
// followed by 8 or 17 lowercase hex digits, in the order given; a repeated
// ID is kept at its first position. An invalid ID gives an error that quotes
// it and its position.
func ParseGroupSet(ids ...string) (GroupSet, error) {
	for i, id := range ids {
		if !awsid.Valid(id, awsid.SecurityGroup) {
			return GroupSet{}, fmt.Errorf("security group [%d] %q: want \"sg-\" followed by 8 or 17 lowercase hex digits", i, id)
		}
	}
	ordered := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(ordered, id) {
			ordered = append(ordered, id)
		}
	}
	s := GroupSet{key: strings.Join(ordered, ",")}
	if !slices.IsSorted(ordered) {
		s.order = s.key
		slices.Sort(ordered)
		s.key = strings.Join(ordered, ",")
	}
	return s, nil
}

// MustGroupSet is ParseGroupSet for IDs known to be valid, such as constants
// in tests and examples; it panics on an invalid ID.
func MustGroupSet(ids ...string) GroupSet {
	s, err := ParseGroupSet(ids...)
	if err != nil {
		panic(err)
	}
	return s
}

// Len returns the number of groups in s.
func (s GroupSet) Len() int {
	if s.key == "" {
		return 0
	}
	return strings.Count(s.key, ",") + 1
}

// IsEmpty reports whether s has no groups.
func (s GroupSet) IsEmpty() bool { return s.key == "" }

// Canonical returns s with its groups in ascending order: the same members,
// == to the Canonical of any set with the same members.
func (s GroupSet) Canonical() GroupSet { return GroupSet{key: s.key} }

// Equal reports whether s and other have the same members, in any order.
func (s GroupSet) Equal(other GroupSet) bool { return s.key == other.key }

// list returns the members in the order given, joined by commas.
func (s GroupSet) list() string {
	if s.order != "" {
		return s.order
	}
	return s.key
}

// All yields the groups of s in the order given.
func (s GroupSet) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for id := range strings.SplitSeq(s.list(), ",") {
			if id == "" || !yield(id) {
				return
			}
		}
	}
}

// IDs returns the groups of s in the order given, as a new slice: the
// order to send to EC2.
func (s GroupSet) IDs() []string {
	if s.key == "" {
		return nil
	}
	return strings.Split(s.list(), ",")
}

// Contains reports whether id is a member of s.
func (s GroupSet) Contains(id string) bool {
	for g := range strings.SplitSeq(s.key, ",") {
		if g == id {
			return id != ""
		}
	}
	return false
}

// ContainsAll reports whether every group of other is also in s (s ⊇ other),
// in any order. It does not allocate.
func (s GroupSet) ContainsAll(other GroupSet) bool {
	a, b := s.key, other.key
	for b != "" {
		want, bt, _ := strings.Cut(b, ",")
		for {
			if a == "" {
				return false
			}
			have, at, _ := strings.Cut(a, ",")
			a = at
			if have == want {
				break
			}
			if have > want {
				return false
			}
		}
		b = bt
	}
	return true
}

// String returns the groups in the order given, joined by commas: the form
// of the Fargate pod-sg annotation ("sg-b,sg-a"). The empty set gives "".
func (s GroupSet) String() string { return s.list() }
