package v1beta1

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podsg/podsg/internal/awsid"
)

const (
	// DefaultMaxGroups is the default EC2 quota "security groups per
	// network interface", and so the default bound on the groups one pod
	// can get.
	DefaultMaxGroups = 5
	// MaxGroupsCeiling is the highest value that quota can be raised to.
	MaxGroupsCeiling = 16
)

// ValidateOptions tunes Validate. The zero value validates against the
// default EC2 quota.
//
// +kubebuilder:object:generate=false
type ValidateOptions struct {
	// MaxGroups is the account's quota of security groups per network
	// interface: a policy may list at most this many group IDs. Zero means
	// DefaultMaxGroups; values outside 1..MaxGroupsCeiling are reported as
	// an internal error and MaxGroupsCeiling is used instead.
	MaxGroups int
}

// Validate reports every problem of p, each with its field path, in a
// stable order (field order of the spec, then index or key order). An empty
// list means the policy is valid. The checks:
//
//   - at least one of spec.podSelector and spec.serviceAccountSelector is
//     set (a policy without selectors selects no pod);
//   - each set selector converts to a label selector: label keys are
//     qualified names, matchLabels values and matchExpressions values are
//     valid label values, operators are In, NotIn, Exists or DoesNotExist,
//     In and NotIn carry values and Exists and DoesNotExist carry none;
//   - spec.securityGroups.groupIds has 1..MaxGroups entries, each "sg-"
//     followed by 8 or 17 lowercase hex digits, with no duplicates.
//
// Validate does not check metadata (kubectl fills in the namespace) and
// cannot know whether the groups exist in EC2; it does not modify p.
//
// Validate is stricter than the CRD, whose schema is the one EKS installs
// (at least one group ID): the API server stores policies Validate finds
// problems in, as EKS does, and the VPC resource controller matches them
// (package selector does the same). Report its findings without refusing
// the policy: as admission warnings from a validating webhook (the example
// controller's PolicyValidator), as events, or as preflight findings.
// Refusing would make policies stored under EKS's CRD impossible to update.
func Validate(p *SecurityGroupPolicy, opts ValidateOptions) field.ErrorList {
	spec := field.NewPath("spec")
	if p == nil {
		return field.ErrorList{field.Required(spec, "no SecurityGroupPolicy given")}
	}
	var errs field.ErrorList
	s := &p.Spec
	if s.PodSelector == nil && s.ServiceAccountSelector == nil {
		errs = append(errs, field.Required(spec.Child("podSelector"),
			"set podSelector, serviceAccountSelector or both: a policy without selectors selects no pod"))
	}
	errs = append(errs, ValidateSelector(s.PodSelector, spec.Child("podSelector"))...)
	errs = append(errs, ValidateSelector(s.ServiceAccountSelector, spec.Child("serviceAccountSelector"))...)
	errs = append(errs, validateGroups(s.SecurityGroups.Groups, opts, spec.Child("securityGroups", "groupIds"))...)
	return errs
}

// ValidateSelector reports every problem of one label selector, with paths
// below path, in a stable order: matchLabels by key, then matchExpressions
// by index. A nil selector is valid. A selector that passes converts with
// metav1.LabelSelectorAsSelector.
func ValidateSelector(sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	var errs field.ErrorList
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := path.Child("matchLabels").Key(k)
		errs = append(errs, metav1validation.ValidateLabelName(k, p)...)
		for _, msg := range validation.IsValidLabelValue(sel.MatchLabels[k]) {
			errs = append(errs, field.Invalid(p, sel.MatchLabels[k], msg))
		}
	}
	for i, expr := range sel.MatchExpressions {
		errs = append(errs, metav1validation.ValidateLabelSelectorRequirement(expr,
			metav1validation.LabelSelectorValidationOptions{}, path.Child("matchExpressions").Index(i))...)
	}
	if len(errs) == 0 {
		// The checks above mirror labels.NewRequirement; converting is
		// the final word on what the matcher accepts.
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(path, metav1.FormatLabelSelector(sel), err.Error()))
		}
	}
	return errs
}

func validateGroups(ids []string, opts ValidateOptions, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	limit := opts.MaxGroups
	switch {
	case limit == 0:
		limit = DefaultMaxGroups
	case limit < 1 || limit > MaxGroupsCeiling:
		errs = append(errs, field.InternalError(path, fmt.Errorf(
			"ValidateOptions.MaxGroups is %d: set 0 for the default of %d, or the account's quota in 1..%d",
			opts.MaxGroups, DefaultMaxGroups, MaxGroupsCeiling)))
		limit = MaxGroupsCeiling
	}
	switch {
	case len(ids) == 0:
		errs = append(errs, field.Required(path, "list at least one security group ID, like sg-0123456789abcdef0"))
	case len(ids) > limit:
		e := field.TooMany(path, len(ids), limit)
		e.Detail = fmt.Sprintf("must have at most %d items: a network interface takes at most %d security groups under the account's EC2 quota (raisable to %d)",
			limit, limit, MaxGroupsCeiling)
		errs = append(errs, e)
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		switch {
		case !ValidGroupID(id):
			errs = append(errs, field.Invalid(path.Index(i), id,
				"want sg- followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0: use the ID of an existing security group"))
		case seen[id]:
			errs = append(errs, field.Duplicate(path.Index(i), id))
		}
		seen[id] = true
	}
	return errs
}

// ValidGroupID reports whether id has the form of an EC2 security group ID:
// "sg-" followed by 8 (older groups) or 17 lowercase hex digits. It does not
// allocate.
func ValidGroupID(id string) bool { return awsid.Valid(id, awsid.SecurityGroup) }
