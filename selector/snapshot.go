package selector

import (
	"cmp"
	"slices"
)

// snapshot is the immutable set of policies of one namespace, sorted by
// name, with an inverted index that narrows matching to candidates.
//
// Each policy that can match is filed under one anchor: a (side, key) pair
// taken from one of its In or equality requirements, picked so that
// policies share as few anchors as possible. A pod can only match the
// policy if its label for that key has one of the requirement's values, so
// the candidates for a pod are the policies without an anchor (always)
// plus, for each anchor, the bucket of the pod's value. Buckets and always
// hold policy indexes in ascending order; every policy is in exactly one
// list, under each of its anchor's values.
type snapshot struct {
	policies []*Policy
	anchors  []anchor
	always   []int32
}

type anchor struct {
	serviceAccount bool
	key            string
	byValue        map[string][]int32
}

type anchorKey struct {
	serviceAccount bool
	key            string
}

func newSnapshot(policies []*Policy) *snapshot {
	s := &snapshot{policies: policies}
	count := make(map[anchorKey]int)
	for _, p := range policies {
		if p.ignored != "" {
			continue
		}
		p.eachIn(func(k anchorKey, _ *requirement) { count[k]++ })
	}
	index := make(map[anchorKey]int)
	for i, p := range policies {
		if p.ignored != "" {
			continue
		}
		var best anchorKey
		var bestReq *requirement
		p.eachIn(func(k anchorKey, r *requirement) {
			if bestReq == nil || count[k] > count[best] ||
				count[k] == count[best] && lessAnchor(k, best) {
				best, bestReq = k, r
			}
		})
		if bestReq == nil {
			s.always = append(s.always, int32(i))
			continue
		}
		j, ok := index[best]
		if !ok {
			j = len(s.anchors)
			index[best] = j
			s.anchors = append(s.anchors, anchor{serviceAccount: best.serviceAccount, key: best.key, byValue: make(map[string][]int32)})
		}
		for _, v := range bestReq.values {
			b := s.anchors[j].byValue[v]
			if len(b) == 0 || b[len(b)-1] != int32(i) { // values may repeat
				s.anchors[j].byValue[v] = append(b, int32(i))
			}
		}
	}
	slices.SortFunc(s.anchors, func(a, b anchor) int {
		return cmp.Or(cmp.Compare(a.key, b.key), boolCompare(a.serviceAccount, b.serviceAccount))
	})
	return s
}

func lessAnchor(a, b anchorKey) bool {
	return cmp.Or(cmp.Compare(a.key, b.key), boolCompare(a.serviceAccount, b.serviceAccount)) < 0
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// eachIn calls f for every In (or equality) requirement of the policy's
// set selectors.
func (p *Policy) eachIn(f func(anchorKey, *requirement)) {
	for i := range p.pod.reqs {
		if r := &p.pod.reqs[i]; r.op == opIn {
			f(anchorKey{key: r.key}, r)
		}
	}
	for i := range p.sa.reqs {
		if r := &p.sa.reqs[i]; r.op == opIn {
			f(anchorKey{serviceAccount: true, key: r.key}, r)
		}
	}
}
