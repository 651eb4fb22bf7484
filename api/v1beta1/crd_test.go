package v1beta1_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/api/v1beta1"
)

// upstreamCRD is the CRD that EKS installs, kept as test data with its
// source (see the comment at the top of the file).
const upstreamCRD = "testdata/upstream/vpcresources.k8s.aws_securitygrouppolicies.yaml"

// readCRD reads a CRD manifest as generic YAML.
func readCRD(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(data, &doc))
	require.Equal(t, "CustomResourceDefinition", doc["kind"])
	return doc
}

// at walks v along path (map keys, or an index for a list given as int).
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "%v: not a map at %q", path, k)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok, "%v: not a list at %d", path, k)
			require.Greater(t, len(l), k)
			v = l[k]
		}
	}
	return v
}

// validation returns a copy of an OpenAPI v3 schema without its
// descriptions: what the API server validates (types, required fields,
// bounds, patterns, formats, enums, CEL rules, list and map types, pruning)
// and nothing it only shows.
func validation(schema any) any {
	m, ok := schema.(map[string]any)
	if !ok {
		return schema // additionalProperties may be a bool
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "description":
		case "properties":
			props := map[string]any{}
			for name, s := range v.(map[string]any) {
				props[name] = validation(s)
			}
			out[k] = props
		case "items", "additionalProperties", "not":
			out[k] = validation(v)
		case "allOf", "anyOf", "oneOf":
			var l []any
			for _, s := range v.([]any) {
				l = append(l, validation(s))
			}
			out[k] = l
		default:
			out[k] = v
		}
	}
	return out
}

// TestCRDValidatesAsUpstream: the CRD podsg serves validates exactly what
// the Amazon VPC resource controller's CRD (the one EKS installs) validates:
// same group, names, scope and version, and an OpenAPI schema equal to
// upstream's once descriptions are set aside. No pattern, maxItems or CEL
// rule beyond upstream's: installed over EKS's CRD, it accepts, and lets
// users update, every policy EKS accepted. Printer columns are display only;
// podsg keeps upstream's and adds Age.
func TestCRDValidatesAsUpstream(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(upstreamCRD))
	require.NoError(t, err)
	up, ours := readCRD(t, data), readCRD(t, v1beta1.CRD())

	require.Equal(t, at(t, up, "metadata", "name"), at(t, ours, "metadata", "name"))
	for _, field := range []string{"group", "names", "scope"} {
		if diff := cmp.Diff(at(t, up, "spec", field), at(t, ours, "spec", field)); diff != "" {
			t.Errorf("spec.%s (-upstream +podsg):\n%s", field, diff)
		}
	}
	upVersions, ourVersions := at(t, up, "spec", "versions").([]any), at(t, ours, "spec", "versions").([]any)
	require.Len(t, ourVersions, len(upVersions))
	for i := range upVersions {
		for _, field := range []string{"name", "served", "storage", "subresources"} {
			if diff := cmp.Diff(at(t, upVersions, i, field), at(t, ourVersions, i, field)); diff != "" {
				t.Errorf("spec.versions[%d].%s (-upstream +podsg):\n%s", i, field, diff)
			}
		}
		upSchema := validation(at(t, upVersions, i, "schema", "openAPIV3Schema"))
		ourSchema := validation(at(t, ourVersions, i, "schema", "openAPIV3Schema"))
		if diff := cmp.Diff(upSchema, ourSchema); diff != "" {
			t.Errorf("spec.versions[%d].schema validates differently from upstream's (-upstream +podsg):\n%s", i, diff)
		}

		ourColumns := map[string]any{}
		for _, c := range at(t, ourVersions, i, "additionalPrinterColumns").([]any) {
			col := c.(map[string]any)
			ourColumns[col["name"].(string)] = col
		}
		for _, c := range at(t, upVersions, i, "additionalPrinterColumns").([]any) {
			col := c.(map[string]any)
			name := col["name"].(string)
			require.Contains(t, ourColumns, name, "upstream's printer column %s", name)
			for _, k := range []string{"type", "jsonPath"} {
				require.Equal(t, col[k], ourColumns[name].(map[string]any)[k], "printer column %s: %s", name, k)
			}
		}
	}
}

// TestValidationIgnoresOnlyDescriptions: the comparison above can fail;
// any validation keyword, at any depth, counts.
func TestValidationIgnoresOnlyDescriptions(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{
			"type":        "object",
			"description": "d",
			"properties": map[string]any{
				"groupIds": map[string]any{
					"type": "array", "minItems": 1, "description": "x",
					"items": map[string]any{"type": "string", "description": "y"},
				},
			},
		}
	}
	require.Empty(t, cmp.Diff(validation(base()), validation(map[string]any{
		"type": "object",
		"properties": map[string]any{
			"groupIds": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "string"}},
		},
	})))
	for name, change := range map[string]func(map[string]any){
		"pattern on items": func(m map[string]any) {
			m["properties"].(map[string]any)["groupIds"].(map[string]any)["items"].(map[string]any)["pattern"] = "^sg-"
		},
		"maxItems": func(m map[string]any) { m["properties"].(map[string]any)["groupIds"].(map[string]any)["maxItems"] = 16 },
		"CEL rule": func(m map[string]any) {
			m["x-kubernetes-validations"] = []any{map[string]any{"rule": "has(self.podSelector)"}}
		},
		"required": func(m map[string]any) { m["required"] = []any{"groupIds"} },
	} {
		changed := base()
		change(changed)
		require.NotEmpty(t, cmp.Diff(validation(base()), validation(changed)), name)
	}
}
