// Package kubetest gives tests a real Kubernetes control plane: kube-apiserver
// and etcd started by controller-runtime's envtest from the binaries in
// $KUBEBUILDER_ASSETS, the real kubectl, users authenticated by client
// certificates or service-account tokens and authorised by RBAC, an audit log
// of every request, and helpers to build and run the example controller as a
// process against it.
//
// The binaries are built from source by `make kube-assets` (see
// hack/kube-assets) into .kube-assets/ at the repository root; `make test`
// builds them and sets KUBEBUILDER_ASSETS. Without KUBEBUILDER_ASSETS, tests
// that call Start are skipped with a message saying so; with it set, a
// missing binary fails the test.
//
// A control plane has no kubelet, scheduler or controller manager: tests play
// those parts through the API (Impersonate gives them the identities the real
// components have, so RBAC applies as in a cluster).
package kubetest
