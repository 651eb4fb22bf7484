package eni

// PodRef identifies a pod. UID tells apart pods that reuse a name (a
// StatefulSet replica recreated with the same name is another pod).
// PodRef is comparable.
type PodRef struct {
	Namespace string
	Name      string
	UID       string
}

// String returns "namespace/name".
func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// IsZero reports whether p is the zero PodRef.
func (p PodRef) IsZero() bool { return p == PodRef{} }
