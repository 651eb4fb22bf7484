package eni

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/podsg/podsg/internal/awsid"
)

// GroupSet is a set of EC2 security-group IDs: sorted, without duplicates,
// and comparable with ==, so it can key a map. Two sets with the same
// members are equal whatever order they were given in.
//
// The zero GroupSet is the empty set. A GroupSet is an immutable value and
// safe for concurrent use.
type GroupSet struct {
	// key holds the members sorted and joined by commas.
	key string
}

// ParseGroupSet returns the set of the given security-group IDs, each "sg-"
// followed by 8 or 17 lowercase hex digits. Duplicates are dropped. An
// invalid ID gives an error that quotes it and its position.
func ParseGroupSet(ids ...string) (GroupSet, error) {
	for i, id := range ids {
		if !awsid.Valid(id, awsid.SecurityGroup) {
			return GroupSet{}, fmt.Errorf("security group [%d] %q: want \"sg-\" followed by 8 or 17 lowercase hex digits", i, id)
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	return GroupSet{key: strings.Join(sorted, ",")}, nil
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

// All yields the groups of s in ascending order.
func (s GroupSet) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		rest := s.key
		for rest != "" {
			id, tail, _ := strings.Cut(rest, ",")
			if !yield(id) {
				return
			}
			rest = tail
		}
	}
}

// IDs returns the groups of s in ascending order, as a new slice.
func (s GroupSet) IDs() []string {
	if s.key == "" {
		return nil
	}
	return strings.Split(s.key, ",")
}

// Contains reports whether id is a member of s.
func (s GroupSet) Contains(id string) bool {
	for g := range s.All() {
		if g == id {
			return true
		}
	}
	return false
}

// ContainsAll reports whether every group of other is also in s (s ⊇ other).
// It does not allocate.
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

// String returns the groups joined by commas, the form of the Fargate pod-sg
// annotation ("sg-1,sg-2"). The empty set gives "".
func (s GroupSet) String() string { return s.key }
