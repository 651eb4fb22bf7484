package query

// shapes_gen.go is generated from the EC2 SDK version in go.mod and
// operations.txt; `make check-generated` (part of `make test`) fails when it is
// stale, for example after an SDK upgrade or an edit of operations.txt without
// `make generate`.
//
//go:generate go run ./shapegen -ops operations.txt -o shapes_gen.go

// member is one entry of the generated shape table: the Go field of a
// structure, the XML element that carries it, and, for lists, the element
// that wraps each list member ("item" in EC2).
type member struct {
	field   string
	element string
	item    string
}
