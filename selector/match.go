package selector

import "slices"

// maxStackMatches is how many matching policies Match tracks without
// allocating; beyond it the list of matches moves to the heap.
const maxStackMatches = 32

// Match decides which security groups pod gets, from the policies of its
// namespace as they are when Match is called; see the package
// documentation for the semantics. A pod with hostNetwork or a Windows pod
// is NotEligible whatever the policies say.
//
// Match does not allocate when no policy matches, nor when exactly one does
// (the result shares the policy's slices); when several do it makes one
// allocation for Groups and Policies together. Match is safe to call
// concurrently with anything.
func (x *Index) Match(pod Pod) Result {
	return match(&pod, x.snapshot(pod.Namespace))
}

func match(pod *Pod, s *snapshot) Result {
	switch {
	case pod.HostNetwork:
		return Result{Reason: ReasonHostNetwork}
	case pod.windows():
		return Result{Reason: ReasonWindows}
	case s == nil:
		return Result{Reason: ReasonNoPolicy}
	}
	var stack [maxStackMatches]*Policy
	matched := stack[:0]
	for _, p := range s.policies {
		if p.Matches(pod) {
			matched = append(matched, p)
		}
	}
	r := Result{Treatment: BranchENI}
	if pod.fargate() {
		r.Treatment = Fargate
	}
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

// union returns the sorted, de-duplicated union of the groups of ps and the
// names of ps (which are sorted by name), both in one allocation.
func union(ps []*Policy) (groups, names []string) {
	n := len(ps)
	for _, p := range ps {
		n += len(p.groups)
	}
	buf := make([]string, 0, n)
	for _, p := range ps {
		buf = append(buf, p.groups...)
	}
	slices.Sort(buf)
	buf = slices.Compact(buf)
	g := len(buf)
	for _, p := range ps {
		buf = append(buf, p.name)
	}
	return buf[:g:g], buf[g:len(buf):len(buf)]
}
