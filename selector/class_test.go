package selector_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/selector"
)

// TestClassifyAsUpstream is the pod webhook's classification case by case:
// WhichPod in webhooks/core/pod_webhook.go of
// aws/amazon-vpc-resource-controller-k8s (host network first, then the
// Fargate label, then a kubernetes.io/os or beta.kubernetes.io/os node
// selector equal to exactly "windows", else Linux), followed by
// GetMatchingSecurityGroupForPods in pkg/utils/helper.go, which refuses a
// Linux or Fargate pod whose ServiceAccount it cannot read, even when no
// policy exists. The namespace "ns" has one policy selecting every pod.
func TestClassifyAsUpstream(t *testing.T) {
	fargate := lbls(selector.FargateProfileLabel, "fp-default")
	windows := lbls(selector.OSLabel, "windows")
	matched := func(tr selector.Treatment) selector.Result {
		return selector.Result{Treatment: tr, Groups: []string{sgB, sgA}, Policies: []string{"all"}}
	}
	refused := selector.Result{Treatment: selector.TreatRefused, Reason: selector.ReasonNoServiceAccount}
	tests := []struct {
		name  string
		pod   selector.Pod
		class selector.Class
		want  selector.Result
	}{
		{"plain pod", selector.Pod{}, selector.ClassLinux, matched(selector.TreatBranchENI)},
		{"host network", selector.Pod{HostNetwork: true}, selector.ClassHostNetwork,
			selector.Result{Reason: selector.ReasonHostNetwork}},
		{"host network before Fargate", selector.Pod{HostNetwork: true, Labels: fargate}, selector.ClassHostNetwork,
			selector.Result{Reason: selector.ReasonHostNetwork}},
		{"host network is never refused", selector.Pod{HostNetwork: true, ServiceAccountMissing: true}, selector.ClassHostNetwork,
			selector.Result{Reason: selector.ReasonHostNetwork}},
		{"Fargate label", selector.Pod{Labels: fargate}, selector.ClassFargate, matched(selector.TreatFargate)},
		{"Fargate label with an empty value", selector.Pod{Labels: lbls(selector.FargateProfileLabel, "")}, selector.ClassFargate,
			matched(selector.TreatFargate)},
		// podsg differed here: Windows was checked first.
		{"Fargate before Windows", selector.Pod{Labels: fargate, NodeSelector: windows}, selector.ClassFargate,
			matched(selector.TreatFargate)},
		{"Windows node selector", selector.Pod{NodeSelector: windows}, selector.ClassWindows,
			selector.Result{Reason: selector.ReasonWindows}},
		{"Windows beta node selector", selector.Pod{NodeSelector: lbls(selector.BetaOSLabel, "windows")}, selector.ClassWindows,
			selector.Result{Reason: selector.ReasonWindows}},
		{"either node selector is enough", selector.Pod{NodeSelector: lbls(selector.OSLabel, "linux", selector.BetaOSLabel, "windows")},
			selector.ClassWindows, selector.Result{Reason: selector.ReasonWindows}},
		// podsg differed here: "Windows" was compared without regard to case.
		{"Windows in another case is Linux", selector.Pod{NodeSelector: lbls(selector.OSLabel, "Windows")}, selector.ClassLinux,
			matched(selector.TreatBranchENI)},
		// podsg differed here: spec.os.name counted. A Pod has no field
		// for it any more; selector/kube does not read it.
		{"other node selectors are Linux", selector.Pod{NodeSelector: lbls("os", "windows")}, selector.ClassLinux,
			matched(selector.TreatBranchENI)},
		{"Windows is never refused", selector.Pod{NodeSelector: windows, ServiceAccountMissing: true}, selector.ClassWindows,
			selector.Result{Reason: selector.ReasonWindows}},
		// podsg differed here: a missing ServiceAccount matched as one
		// without labels.
		{"missing ServiceAccount refused", selector.Pod{ServiceAccountMissing: true}, selector.ClassLinux, refused},
		{"missing ServiceAccount refused on Fargate", selector.Pod{Labels: fargate, ServiceAccountMissing: true}, selector.ClassFargate, refused},
		{"missing ServiceAccount refused without policies", selector.Pod{Namespace: "empty", ServiceAccountMissing: true}, selector.ClassLinux, refused},
		{"no policy", selector.Pod{Namespace: "empty"}, selector.ClassLinux, selector.Result{Reason: selector.ReasonNoPolicy}},
		{"Fargate without policy", selector.Pod{Namespace: "empty", Labels: fargate}, selector.ClassFargate,
			selector.Result{Reason: selector.ReasonNoPolicy}},
	}
	x := selector.NewIndex(selector.Options{})
	require.NoError(t, x.Upsert(sgp("ns", "all", everything, nil, sgB, sgA)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pod.Namespace == "" {
				tt.pod.Namespace = "ns"
			}
			require.Equal(t, tt.class, tt.pod.Class())
			got := x.Match(tt.pod)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, x.Explain(tt.pod).Result, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Explain.Result (-match +explain):\n%s", diff)
			}
		})
	}
}

func TestClassNeedsServiceAccount(t *testing.T) {
	for c, want := range map[selector.Class]bool{
		selector.ClassLinux: true, selector.ClassFargate: true,
		selector.ClassHostNetwork: false, selector.ClassWindows: false,
	} {
		require.Equal(t, want, c.NeedsServiceAccount(), c.String())
	}
}
