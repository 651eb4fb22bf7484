package v1beta1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

var (
	// ErrInvalidManifest is matched (errors.Is) by every error Decode
	// returns for input it cannot read as a SecurityGroupPolicy.
	ErrInvalidManifest = errors.New("invalid SecurityGroupPolicy manifest")
	// ErrWrongKind is matched by the error Decode returns for a well-formed
	// object of another apiVersion or kind, so that callers reading mixed
	// manifests can skip it.
	ErrWrongKind = errors.New("not a " + Group + "/" + Version + " " + Kind)
)

// Decode reads one SecurityGroupPolicy manifest, YAML or JSON, the way the
// API server and kubectl's strict field validation read it: field names are
// case-sensitive, and unknown or duplicate fields are errors naming the
// field. The manifest must hold exactly one document (comments and empty
// documents are ignored) whose apiVersion is vpcresources.k8s.aws/v1beta1
// and kind SecurityGroupPolicy.
//
// Decode does not validate the spec: call Validate on the result. Errors
// match ErrWrongKind for another kind and ErrInvalidManifest otherwise.
func Decode(data []byte) (*SecurityGroupPolicy, error) {
	docs, err := jsonDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	switch len(docs) {
	case 0:
		return nil, fmt.Errorf("%w: no document found: write an object with apiVersion %s and kind %s",
			ErrInvalidManifest, GroupVersion, Kind)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d documents found: Decode reads one, split the manifest at its --- lines",
			ErrInvalidManifest, len(docs))
	}
	js := docs[0]

	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if tm.APIVersion != GroupVersion.String() || tm.Kind != Kind {
		return nil, fmt.Errorf("%w: got apiVersion %q, kind %q", ErrWrongKind, tm.APIVersion, tm.Kind)
	}

	p := new(SecurityGroupPolicy)
	strict, err := sigsjson.UnmarshalStrict(js, p, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%w: %w (fix the spelling or remove the field)", ErrInvalidManifest, errors.Join(strict...))
	}
	return p, nil
}

// jsonDocuments splits a YAML stream into documents and converts each to
// JSON, dropping empty ones. Duplicate mapping keys are errors.
func jsonDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue
		}
		docs = append(docs, js)
	}
}
