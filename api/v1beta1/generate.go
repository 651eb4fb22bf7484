package v1beta1

// The deep-copy methods (zz_generated.deepcopy.go) and the CRD manifest
// (crd/) are generated from the types in this package. TestGeneratedUpToDate
// runs the same command into a temporary directory and fails when the
// checked-in files differ.
//
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=. crd:crdVersions=v1 output:crd:dir=crd
