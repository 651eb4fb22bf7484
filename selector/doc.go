// Package selector decides which security groups each pod gets from the
// SecurityGroupPolicy objects of its namespace, with the semantics of the
// Amazon VPC resource controller's pod webhook, and explains the decision.
//
// # Semantics
//
// A pod is matched against the policies of its own namespace only. For each
// policy:
//
//   - a policy with neither podSelector nor serviceAccountSelector, or with
//     no group IDs, is ignored;
//   - each selector that is set must match: podSelector against the pod's
//     labels, serviceAccountSelector against the labels of the pod's
//     ServiceAccount object (both set means both must match);
//   - an empty selector ({}) matches everything, an unset (nil) one places
//     no constraint;
//   - a selector that does not convert to a label selector (a bad key,
//     operator or value) matches nothing, so its policy is ignored.
//
// The pod gets the union of the groups of every matching policy,
// de-duplicated and sorted by ID, so that the same set always has the same
// order whatever the policies' names or creation order. Result.Policies lists
// the matching policies sorted by name.
//
// A pod with hostNetwork gets no branch ENI, nor does a Windows pod; a Fargate
// pod (label eks.amazonaws.com/fargate-profile) gets its groups through the
// fargate.amazonaws.com/pod-sg annotation instead of a branch ENI. Result
// says which treatment applies and why.
//
// Policies apply when a pod is matched, which a controller does once, when
// the pod is created: changing, adding or deleting a policy affects only pods
// matched afterwards, and a running pod keeps the groups it started with.
//
// # Index
//
// An Index holds compiled policies: the selectors of each policy are
// converted once, when the policy is inserted, into a form that matches
// without allocating, and each namespace keeps an inverted index from label
// values to the policies that require them, so that a match evaluates only
// the policies that can select the pod. A controller feeds it from watch events with Upsert,
// Delete and ReplaceAll (after a relist). Matching is lock-free: each
// namespace's policies live in an immutable snapshot behind an atomic
// pointer, and writers build a new snapshot and swap it in, so Match and
// Explain never wait for writers and never see half of an update.
//
// Match returns the groups of a pod with no allocation when nothing matches
// and at most one when something does. Explain reports, for every policy of
// the pod's namespace, whether it matched and, if not, which selector and
// which requirement failed on which label.
//
// The package depends on k8s.io/apimachinery but not on k8s.io/api: callers
// that only have labels fill in a Pod. Package selector/kube builds a Pod from
// *corev1.Pod and *corev1.ServiceAccount.
package selector
