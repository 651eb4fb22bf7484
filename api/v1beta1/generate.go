package v1beta1

// The deep-copy methods (zz_generated.deepcopy.go) and the CRD manifest
// (crd/) are generated from the types in this package by controller-gen, at
// the version pinned in tools/controller-gen/go.mod and built into bin/ by
// `make tools`. Regenerate with `make generate`; `make check-generated` (part
// of `make test`) fails when the checked-in files differ from its output.
//
//go:generate ../../bin/controller-gen object paths=. crd:crdVersions=v1 output:crd:dir=crd
