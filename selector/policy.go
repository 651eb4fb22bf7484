package selector

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podsg/podsg/api/v1beta1"
)

// ErrInvalidPolicy is matched (errors.Is) by every error about the content
// of a SecurityGroupPolicy: those of Compile's Policy.Err, Upsert and
// ReplaceAll.
var ErrInvalidPolicy = errors.New("invalid SecurityGroupPolicy")

// PolicyError lists the problems v1beta1.Validate found in one policy. It
// matches ErrInvalidPolicy.
type PolicyError struct {
	Namespace, Name string
	// Errs are the violations, each with its field path.
	Errs field.ErrorList
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("SecurityGroupPolicy %s/%s: %v (fix the policy; until then it is matched as the VPC resource controller would match it)",
		e.Namespace, e.Name, e.Errs.ToAggregate())
}

// Is makes PolicyError match ErrInvalidPolicy.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }

// Policy is a compiled SecurityGroupPolicy: its selectors converted once into
// a form that matches labels without allocating, and its group IDs
// de-duplicated in list order. A Policy is immutable and safe for concurrent use; the
// slices its methods return are shared and must not be modified.
type Policy struct {
	namespace, name string
	groups          []string // list order, de-duplicated, cap == len
	names           []string // []string{name}, for single-match results
	pod, sa         compiledSelector
	// ignored says why the policy can match no pod; "" if it can.
	ignored string
	err     error
}

// Compile compiles p, which must not be nil and which it neither retains
// nor modifies. It always returns a Policy: one with problems reports them
// through Err and matches exactly as the VPC resource controller would match
// it (a selector that does not convert matches nothing; group IDs are used
// as given, in list order, de-duplicated).
func Compile(p *v1beta1.SecurityGroupPolicy, opts v1beta1.ValidateOptions) *Policy {
	c := &Policy{namespace: p.Namespace, name: p.Name}
	c.names = []string{p.Name}
	c.pod = compileSelector(p.Spec.PodSelector)
	c.sa = compileSelector(p.Spec.ServiceAccountSelector)

	c.groups = dedup(p.Spec.SecurityGroups.Groups)

	switch {
	case c.pod.state == selectorUnset && c.sa.state == selectorUnset:
		c.ignored = "neither podSelector nor serviceAccountSelector is set"
	case len(c.groups) == 0:
		c.ignored = "spec.securityGroups.groupIds is empty"
	case c.pod.state == selectorInvalid:
		c.ignored = "podSelector does not convert: " + c.pod.err.Error()
	case c.sa.state == selectorInvalid:
		c.ignored = "serviceAccountSelector does not convert: " + c.sa.err.Error()
	}
	if errs := v1beta1.Validate(p, opts); len(errs) > 0 {
		c.err = &PolicyError{Namespace: p.Namespace, Name: p.Name, Errs: errs}
	}
	return c
}

// dedup returns the IDs in order, each at its first occurrence, as the
// VPC resource controller's RemoveDuplicatedSg does, in a new slice with
// cap == len.
func dedup(ids []string) []string {
	out := make([]string, 0, len(ids))
	if len(ids) <= maxLinearDedup {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return slices.Clip(out)
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return slices.Clip(out)
}

// Namespace returns the namespace of the policy.
func (p *Policy) Namespace() string { return p.namespace }

// Name returns the name of the policy.
func (p *Policy) Name() string { return p.name }

// Groups returns the policy's group IDs in the order the policy lists them,
// each kept at its first occurrence. The slice is shared: do not modify it.
func (p *Policy) Groups() []string { return p.groups }

// Err returns the problems v1beta1.Validate found, as a *PolicyError, or nil.
func (p *Policy) Err() error { return p.err }

// Ignored says why the policy can match no pod (no selector, no group IDs,
// a selector that does not convert), or returns "" when it can match.
func (p *Policy) Ignored() string { return p.ignored }

// Matches reports whether the policy selects pod, ignoring the pod's
// eligibility (host network, OS) and its namespace.
func (p *Policy) Matches(pod *Pod) bool {
	if p.ignored != "" {
		return false
	}
	return p.pod.matches(pod.Labels) && p.sa.matches(pod.ServiceAccountLabels)
}

type selectorState uint8

const (
	selectorUnset selectorState = iota
	selectorSet
	selectorInvalid
)

// compiledSelector is a label selector converted for allocation-free
// matching. An unset selector matches everything (it places no
// constraint); whether a policy without any set selector matches is
// decided by the policy.
type compiledSelector struct {
	state selectorState
	reqs  []requirement
	text  string // label-selector syntax; "" for {}
	err   error  // conversion error when state is selectorInvalid
}

type operator uint8

const (
	opIn operator = iota
	opNotIn
	opExists
	opDoesNotExist
)

type requirement struct {
	key    string
	op     operator
	values []string
	text   string // label-selector syntax, as labels.Requirement.String
}

func compileSelector(ls *metav1.LabelSelector) compiledSelector {
	if ls == nil {
		return compiledSelector{state: selectorUnset}
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return compiledSelector{state: selectorInvalid, err: err, text: rawSelector(ls)}
	}
	c := compiledSelector{state: selectorSet, text: sel.String()}
	reqs, _ := sel.Requirements()
	for i := range reqs {
		r := &reqs[i]
		var op operator
		switch r.Operator() {
		case selection.In, selection.Equals, selection.DoubleEquals:
			op = opIn
		case selection.NotIn, selection.NotEquals:
			op = opNotIn
		case selection.Exists:
			op = opExists
		case selection.DoesNotExist:
			op = opDoesNotExist
		default:
			// LabelSelectorAsSelector produces none of the other
			// operators (Gt, Lt); refuse rather than guess.
			err := fmt.Errorf("operator %q is not supported in a label selector", r.Operator())
			return compiledSelector{state: selectorInvalid, err: err, text: c.text}
		}
		c.reqs = append(c.reqs, requirement{key: r.Key(), op: op, values: r.ValuesUnsorted(), text: r.String()})
	}
	return c
}

// rawSelector renders a selector that does not convert as its JSON form.
func rawSelector(ls *metav1.LabelSelector) string {
	b, err := json.Marshal(ls)
	if err != nil {
		return fmt.Sprintf("%+v", *ls)
	}
	return string(b)
}

// matches reports whether lbls satisfy every requirement. Unset selectors
// match; invalid ones do not. It does not allocate.
func (s *compiledSelector) matches(lbls map[string]string) bool {
	switch s.state {
	case selectorUnset:
		return true
	case selectorInvalid:
		return false
	}
	for i := range s.reqs {
		if !s.reqs[i].matches(lbls) {
			return false
		}
	}
	return true
}

func (r *requirement) matches(lbls map[string]string) bool {
	v, ok := lbls[r.key]
	switch r.op {
	case opIn:
		return ok && slices.Contains(r.values, v)
	case opNotIn:
		return !ok || !slices.Contains(r.values, v)
	case opExists:
		return ok
	default: // opDoesNotExist
		return !ok
	}
}
