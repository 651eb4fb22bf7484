package selector

import "slices"

const (
	// maxStackMatches is how many matching policies Match tracks without
	// allocating; beyond it the list of matches moves to the heap.
	maxStackMatches = 32
	// maxLists is how many candidate lists (the anchorless policies and
	// one bucket per anchor the pod hits) Match merges; beyond it, it
	// scans every policy of the namespace.
	maxLists = 16
	// maxLinearDedup is how many groups and names union de-duplicates by
	// scanning what it kept; beyond it, it uses a map.
	maxLinearDedup = 64
)

// Match decides which security groups pod gets, from the policies of its
// namespace as they are when Match is called; see the package
// documentation for the semantics. The pod's Class comes first, as in the
// VPC resource controller's pod webhook: a host-network pod is
// TreatNotEligible and a Windows pod too, whatever the policies say; a Linux
// or Fargate pod whose ServiceAccount is missing is TreatRefused.
//
// Match does not allocate when no policy matches, nor when exactly one does
// (the result shares the policy's slices); when several do it makes one
// allocation for Groups and Policies together (two when more than 32
// policies select the pod). Match is safe to call concurrently with
// anything.
func (x *Index) Match(pod Pod) Result {
	return match(&pod, x.snapshot(pod.Namespace))
}

func match(pod *Pod, s *snapshot) Result {
	treat := TreatBranchENI
	switch pod.Class() {
	case ClassHostNetwork:
		return Result{Reason: ReasonHostNetwork}
	case ClassWindows:
		return Result{Reason: ReasonWindows}
	case ClassFargate:
		treat = TreatFargate
	}
	// The controller lists the namespace's policies, then reads the
	// ServiceAccount and refuses the pod when that fails, before matching
	// (GetMatchingSecurityGroupForPods in pkg/utils/helper.go): even with
	// no policy in the namespace.
	if pod.ServiceAccountMissing {
		return Result{Treatment: TreatRefused, Reason: ReasonNoServiceAccount}
	}
	if s == nil {
		return Result{Reason: ReasonNoPolicy}
	}
	var stack [maxStackMatches]*Policy
	matched := s.candidates(pod, stack[:0])
	r := Result{Treatment: treat}
	switch len(matched) {
	case 0:
		return Result{Reason: ReasonNoPolicy}
	case 1:
		r.Groups, r.Policies = matched[0].groups, matched[0].names
		return r
	}
	r.Groups, r.Policies = union(matched)
	return r
}

// candidates appends to matched the policies of s that select pod, in name
// order. It evaluates only the candidates the inverted index leaves, by
// merging their sorted index lists.
func (s *snapshot) candidates(pod *Pod, matched []*Policy) []*Policy {
	var lists [maxLists][]int32
	n := 0
	if len(s.always) > 0 {
		lists[n] = s.always
		n++
	}
	for i := range s.anchors {
		a := &s.anchors[i]
		lbls := pod.Labels
		if a.serviceAccount {
			lbls = pod.ServiceAccountLabels
		}
		v, ok := lbls[a.key]
		if !ok {
			continue
		}
		b := a.byValue[v]
		if len(b) == 0 {
			continue
		}
		if n == maxLists {
			return s.scan(pod, matched)
		}
		lists[n] = b
		n++
	}
	for {
		best, from := int32(-1), -1
		for j := range n {
			if l := lists[j]; len(l) > 0 && (from < 0 || l[0] < best) {
				best, from = l[0], j
			}
		}
		if from < 0 {
			return matched
		}
		lists[from] = lists[from][1:]
		if p := s.policies[best]; p.Matches(pod) {
			matched = append(matched, p)
		}
	}
}

// scan appends to matched every policy of s that selects pod, in name order.
func (s *snapshot) scan(pod *Pod, matched []*Policy) []*Policy {
	for _, p := range s.policies {
		if p.Matches(pod) {
			matched = append(matched, p)
		}
	}
	return matched
}

// union returns the union of the groups of ps in policy order (ps are
// sorted by name; each policy's groups in its list order; an ID kept at its
// first occurrence) and the names of ps, both in one allocation.
func union(ps []*Policy) (groups, names []string) {
	n := len(ps)
	for _, p := range ps {
		n += len(p.groups)
	}
	buf := make([]string, 0, n)
	if n <= maxLinearDedup {
		for _, p := range ps {
			for _, g := range p.groups {
				if !slices.Contains(buf, g) {
					buf = append(buf, g)
				}
			}
		}
	} else {
		seen := make(map[string]struct{}, n)
		for _, p := range ps {
			for _, g := range p.groups {
				if _, dup := seen[g]; !dup {
					seen[g] = struct{}{}
					buf = append(buf, g)
				}
			}
		}
	}
	g := len(buf)
	for _, p := range ps {
		buf = append(buf, p.name)
	}
	return buf[:g:g], buf[g:len(buf):len(buf)]
}
