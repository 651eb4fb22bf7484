package v1beta1_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/v1beta1"
)

// FuzzDecodeValidate feeds arbitrary bytes to Decode and Validate. Neither
// may panic; a decoded policy must survive a JSON round trip unchanged, and
// a policy Validate accepts must satisfy the documented bounds.
func FuzzDecodeValidate(f *testing.F) {
	f.Add(readTestdata(f, "my-security-group-policy.yaml"))
	f.Add(readTestdata(f, "tutorial-verbatim/my-security-group-policy.yaml"))
	f.Add(readTestdata(f, "sample-application.yaml"))
	f.Add([]byte(`{"apiVersion":"vpcresources.k8s.aws/v1beta1","kind":"SecurityGroupPolicy","spec":{"serviceAccountSelector":{"matchExpressions":[{"key":"a","operator":"In","values":["b"]}]},"securityGroups":{"groupIds":["sg-12345678","sg-12345678"]}}}`))
	f.Add([]byte("apiVersion: vpcresources.k8s.aws/v1beta1\nkind: SecurityGroupPolicy\nspec:\n  podSelector: {matchLabels: {\"\": x}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := v1beta1.Decode(data)
		if err != nil {
			require.Nil(t, p)
			return
		}
		for _, max := range []int{0, 1, 16, 99} {
			errs := v1beta1.Validate(p, v1beta1.ValidateOptions{MaxGroups: max})
			for _, e := range errs {
				require.NotEmpty(t, e.Field, "every violation names its field: %v", e)
			}
			if len(errs) == 0 {
				limit := max
				if limit == 0 {
					limit = v1beta1.DefaultMaxGroups
				}
				ids := p.Spec.SecurityGroups.Groups
				require.True(t, len(ids) >= 1 && len(ids) <= limit, "accepted %d groups with limit %d", len(ids), limit)
				for _, id := range ids {
					require.True(t, v1beta1.ValidGroupID(id), "accepted group ID %q", id)
				}
				require.True(t, p.Spec.PodSelector != nil || p.Spec.ServiceAccountSelector != nil)
			}
		}
		js, err := json.Marshal(p)
		require.NoError(t, err)
		again, err := v1beta1.Decode(js)
		require.NoError(t, err, "re-decoding %s", js)
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("round trip changed the policy (-first +second):\n%s", diff)
		}
	})
}
