package selector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Explanation says why a pod gets the groups it gets: the Result that Match
// returns and, for every policy of the pod's namespace, whether it selects
// the pod and, if not, what failed. It is computed from one snapshot of the
// namespace, so Result and Policies agree. It is a plain value that
// shares nothing mutable with the index.
type Explanation struct {
	// Namespace and Pod name the pod.
	Namespace, Pod string
	// Result is what Match returns for the pod.
	Result Result
	// Policies explains every policy of the namespace, sorted by name. For
	// a pod that is not eligible because of its host network or OS, they
	// still say which policies select it.
	Policies []PolicyExplanation
}

// PolicyExplanation says whether one policy selects the pod, and why.
type PolicyExplanation struct {
	Name string
	// Groups are the policy's group IDs in list order, de-duplicated.
	Groups []string
	// Matched reports whether the policy selects the pod.
	Matched bool
	// Ignored says why the policy can select no pod at all, or is "".
	Ignored string
	// Invalid lists the problems v1beta1.Validate found, or is "".
	Invalid string
	// PodSelector and ServiceAccountSelector explain each selector.
	PodSelector, ServiceAccountSelector LabelMatch
}

// LabelMatch says how one label selector of a policy fared against one set
// of labels: the pod's for podSelector, its ServiceAccount's for
// serviceAccountSelector.
type LabelMatch struct {
	// Set is false for a selector that is not set (no constraint).
	Set bool
	// Selector is the selector in label-selector syntax ("role=db,tier in
	// (a,b)"); "" for the empty selector, which matches everything; JSON
	// for a selector that does not convert.
	Selector string
	// Error is the conversion error of a selector that cannot match, or "".
	Error string
	// Matched reports whether every requirement holds (true when not set).
	Matched bool
	// Failed are the requirements that do not hold, in selector order.
	Failed []FailedRequirement
}

// FailedRequirement is one requirement of a selector and the label it
// was tested against.
type FailedRequirement struct {
	// Requirement in label-selector syntax: "role=db", "tier notin (web)",
	// "canary", "!canary".
	Requirement string
	// Key is the label key the requirement tests.
	Key string
	// Value is the label's value; Present reports whether the label exists.
	Value   string
	Present bool
}

// Explain explains the decision Match makes for pod. It is meant for
// people and tools debugging "why did my pod get these groups"; unlike
// Match it allocates freely. Explain is safe to call concurrently with
// anything.
func (x *Index) Explain(pod Pod) Explanation {
	s := x.snapshot(pod.Namespace)
	e := Explanation{Namespace: pod.Namespace, Pod: pod.Name, Result: match(&pod, s)}
	if s == nil {
		return e
	}
	for _, p := range s.policies {
		pe := PolicyExplanation{
			Name:                   p.name,
			Groups:                 p.groups,
			Matched:                p.Matches(&pod),
			Ignored:                p.ignored,
			PodSelector:            p.pod.explain(pod.Labels),
			ServiceAccountSelector: p.sa.explain(pod.ServiceAccountLabels),
		}
		var perr *PolicyError
		if errors.As(p.err, &perr) {
			pe.Invalid = perr.Errs.ToAggregate().Error()
		}
		e.Policies = append(e.Policies, pe)
	}
	return e
}

func (s *compiledSelector) explain(lbls map[string]string) LabelMatch {
	e := LabelMatch{Set: s.state != selectorUnset, Selector: s.text, Matched: s.matches(lbls)}
	if s.state == selectorInvalid {
		e.Error = s.err.Error()
	}
	for i := range s.reqs {
		r := &s.reqs[i]
		if !r.matches(lbls) {
			v, ok := lbls[r.key]
			e.Failed = append(e.Failed, FailedRequirement{Requirement: r.text, Key: r.key, Value: v, Present: ok})
		}
	}
	return e
}

// String renders the explanation for people, one line per fact:
//
//	pod shop/web-1: branch ENI [sg-0123456789abcdef0] from db-clients
//	  policy db-clients: selects the pod
//	    podSelector app=web: matches
//	    serviceAccountSelector: not set
//	  policy payments: does not select the pod
//	    podSelector role=payments: fails role=payments (pod label role is "web")
func (e Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s/%s: %s\n", e.Namespace, e.Pod, e.Result)
	if len(e.Policies) == 0 {
		fmt.Fprintf(&b, "  namespace %s has no SecurityGroupPolicy\n", e.Namespace)
	}
	for _, p := range e.Policies {
		switch {
		case p.Ignored != "":
			fmt.Fprintf(&b, "  policy %s: ignored: %s\n", p.Name, p.Ignored)
		case p.Matched:
			fmt.Fprintf(&b, "  policy %s: selects the pod, groups [%s]\n", p.Name, strings.Join(p.Groups, " "))
		default:
			fmt.Fprintf(&b, "  policy %s: does not select the pod\n", p.Name)
		}
		if p.Invalid != "" {
			fmt.Fprintf(&b, "    invalid: %s\n", p.Invalid)
		}
		p.PodSelector.write(&b, "podSelector", "pod")
		p.ServiceAccountSelector.write(&b, "serviceAccountSelector", "service account")
	}
	return b.String()
}

func (s LabelMatch) write(b *strings.Builder, field, owner string) {
	switch {
	case !s.Set:
		fmt.Fprintf(b, "    %s: not set\n", field)
		return
	case s.Error != "":
		fmt.Fprintf(b, "    %s %s: does not convert: %s\n", field, s.Selector, s.Error)
		return
	case s.Selector == "":
		fmt.Fprintf(b, "    %s {}: matches everything\n", field)
		return
	case s.Matched:
		fmt.Fprintf(b, "    %s %s: matches\n", field, s.Selector)
		return
	}
	parts := make([]string, len(s.Failed))
	for i, f := range s.Failed {
		if f.Present {
			parts[i] = fmt.Sprintf("fails %s (%s label %s is %s)", f.Requirement, owner, f.Key, strconv.Quote(f.Value))
		} else {
			parts[i] = fmt.Sprintf("fails %s (%s has no label %s)", f.Requirement, owner, f.Key)
		}
	}
	fmt.Fprintf(b, "    %s %s: %s\n", field, s.Selector, strings.Join(parts, "; "))
}
