package fake

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake/internal/ec2doc"
)

// TestFilterTablesFollowTheSDK checks the rule the fake's filters keep:
// every name a Describe action models is in the SDK's documentation of that
// action (package ec2doc, generated from the SDK in go.mod) or on the
// evidence list, and every Describe action has a table.
func TestFilterTablesFollowTheSDK(t *testing.T) {
	var covered []Action
	for _, tbl := range filterTables {
		a := tbl.tableAction()
		covered = append(covered, a)
		doc, ok := ec2doc.Lookup(string(a))
		require.True(t, ok, "%s is missing from fake/internal/ec2doc/operations.txt", a)
		for _, name := range tbl.modelledNames() {
			require.True(t, tbl.accepts(name), "%s models filter %q, which the SDK does not document and no evidence supports", a, name)
			if !doc.Documents(name) {
				require.True(t, slices.ContainsFunc(undocumented, func(e Evidence) bool { return e.Action == a && e.Name == name }), name)
			}
		}
	}
	for _, a := range Actions() {
		if strings.HasPrefix(string(a), "Describe") {
			require.Contains(t, covered, a, "%s has no filter table", a)
		}
	}
	for _, e := range undocumented {
		doc, _ := ec2doc.Lookup(string(e.Action))
		require.False(t, doc.Documents(e.Name), "%s %s is documented now: drop it from the evidence list", e.Action, e.Name)
		require.NotEmpty(t, e.Source)
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern string
		s       string
		wild    bool
		want    bool
	}{
		{"aws-k8s-*", "aws-k8s-branch-eni", true, true},
		{"aws-k8s-*", "aws-k8s-", true, true},
		{"aws-k8s-*", "aws-k8", true, false},
		{"*", "", true, true},
		{"?", "", true, false},
		{"?", "é", true, true}, // one character, not one byte
		{"a?c", "abc", true, true},
		{"a?c", "ac", true, false},
		{"*b*b*", "abxbz", true, true},
		{"*b*b*", "abz", true, false},
		{`\*amazon\?\\`, `*amazon?\`, false, true}, // EC2's own example: escapes make it literal
		{`\*amazon\?\\`, `xamazony\`, false, false},
		{`a\*b*`, "a*bcd", true, true},
		{`a\*b*`, "axbcd", true, false},
		{`trailing\`, `trailing\`, false, true},
		{"a/b[c]", "a/b[c]", false, true}, // no other syntax
		{"a/*", "a/b/c", true, true},      // '*' crosses slashes
	}
	for _, tt := range tests {
		p, wild := parsePattern(tt.pattern)
		require.Equal(t, tt.wild, wild, tt.pattern)
		got := p.match(tt.s)
		if !wild {
			got = p.literal() == tt.s
		}
		require.Equal(t, tt.want, got, "%q against %q", tt.pattern, tt.s)
	}
}
