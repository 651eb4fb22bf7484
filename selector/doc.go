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
// The pod gets the union of the groups of every matching policy in policy
// order, as the VPC resource controller collects them: the policies by name
// (the order in which the API server lists a namespace's objects), each
// policy's groups in the order it lists them, every ID kept at its first
// occurrence. This order reaches EC2 (the groups of a new branch ENI) and
// the Fargate annotation. Result.Policies lists the matching policies sorted
// by name. (The controller lists the policies from its informer cache, whose
// order across policies is unspecified: client-go's indexer returns a
// namespace's objects in map order. Name order is one of the orders it can
// produce, the one a LIST from the API server gives, and is reproducible;
// with one matching policy, the common case, the result is the same.)
//
// Before any policy is read, a pod is classified as the controller's pod
// webhook does (Pod.Class): a pod with hostNetwork gets no branch ENI; a
// Fargate pod (label eks.amazonaws.com/fargate-profile) gets its groups
// through the fargate.amazonaws.com/pod-sg annotation instead of a branch
// ENI, even with a Windows node selector; a pod whose kubernetes.io/os (or
// beta.kubernetes.io/os) node selector is exactly "windows" gets nothing.
// spec.os.name is not consulted. A Linux or Fargate pod whose ServiceAccount
// does not exist is refused (TreatRefused), even when no policy exists.
// Result says which treatment applies and why.
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
