package main

import (
	"os"
	"strings"
	"testing"
)

// FuzzReadManifests feeds arbitrary input to the manifest reader of -f: it
// must return objects or an error, never panic, and every workload it
// returns must carry a pod.
func FuzzReadManifests(f *testing.F) {
	for _, name := range []string{"testdata/pods.yaml", "testdata/sample-application.yaml", "testdata/my-security-group-policy.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("apiVersion: v1\nkind: List\nitems: [{kind: Pod}, 3]\n")
	f.Add("kind: SecurityGroupPolicyList\napiVersion: vpcresources.k8s.aws/v1beta1\nitems: [{metadata: {name: a}}]\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := readManifests([]string{"-"}, strings.NewReader(in), "default")
		if err != nil {
			return
		}
		for _, w := range m.workloads {
			if w.Pod == nil || w.Namespace == "" {
				t.Fatalf("workload %+v without pod or namespace", w)
			}
		}
		for _, p := range m.policies {
			if p.Namespace == "" {
				t.Fatalf("policy %s without namespace", p.Name)
			}
		}
	})
}
