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
// those parts through the API (As and AsServiceAccount give them the
// identities the real components have, so RBAC applies as in a cluster).
//
// Any test of this module can use it: Start for the control plane, Build and
// StartProcess for commands (the controller, or a CNI plugin of the root
// module), Front for webhook replicas, Audit to see who did what. The
// controller's own tests add, in its package, a world with the fake EC2 over
// HTTP and Node objects for its instances (world_test.go).
package kubetest
