package selector_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

// The policy of the EKS tutorial "Security groups for pods", with a real
// group ID in place of its placeholder.
const tutorialPolicy = `
apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata:
  name: my-security-group-policy
  namespace: my-namespace
spec:
  podSelector:
    matchLabels:
      role: my-role
  securityGroups:
    groupIds:
      - sg-05b1d815d1e7a3c90
`

// Decode the tutorial's policy, index it and match a pod of the tutorial's
// sample application.
func ExampleIndex_Match() {
	p, err := v1beta1.Decode([]byte(tutorialPolicy))
	if err != nil {
		fmt.Println(err)
		return
	}
	idx := selector.NewIndex(selector.Options{})
	if err := idx.Upsert(p); err != nil {
		fmt.Println(err)
		return
	}

	r := idx.Match(selector.Pod{
		Namespace: "my-namespace",
		Name:      "my-deployment-5df6f7687b-4fbjm",
		Labels:    map[string]string{"app": "my-app", "role": "my-role"},
	})
	fmt.Println(r.Treatment, r.Groups, r.Policies)

	// The same pod on Fargate gets the groups as an annotation.
	r = idx.Match(selector.Pod{
		Namespace:      "my-namespace",
		Labels:         map[string]string{"app": "my-app", "role": "my-role"},
		FargateProfile: "my-profile",
	})
	fmt.Printf("%s: %s=%s\n", r.Treatment, podeni.FargateAnnotationKey, r.FargateAnnotation())
	// Output:
	// branch ENI [sg-05b1d815d1e7a3c90] [my-security-group-policy]
	// Fargate: fargate.amazonaws.com/pod-sg=sg-05b1d815d1e7a3c90
}

// Why does a pod get no security group? Its label has a typo, and the
// second policy also wants a service-account label it lacks.
func ExampleIndex_Explain() {
	p, err := v1beta1.Decode([]byte(tutorialPolicy))
	if err != nil {
		fmt.Println(err)
		return
	}
	idx := selector.NewIndex(selector.Options{})
	if err := idx.Upsert(p); err != nil {
		fmt.Println(err)
		return
	}
	payments := &v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "payments"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "my-app"}},
			ServiceAccountSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"pci": "true"}},
			SecurityGroups:         v1beta1.GroupIDs{Groups: []string{"sg-0123456789abcdef0"}},
		},
	}
	if err := idx.Upsert(payments); err != nil {
		fmt.Println(err)
		return
	}

	e := idx.Explain(selector.Pod{
		Namespace:            "my-namespace",
		Name:                 "my-deployment-5df6f7687b-j9fl4",
		Labels:               map[string]string{"app": "my-app", "role": "my-rol"},
		ServiceAccountLabels: map[string]string{"team": "shop"},
	})
	fmt.Print(e)
	// Output:
	// pod my-namespace/my-deployment-5df6f7687b-j9fl4: not eligible: no policy selects the pod
	//   policy my-security-group-policy: does not select the pod
	//     podSelector role=my-role: fails role=my-role (pod label role is "my-rol")
	//     serviceAccountSelector: not set
	//   policy payments: does not select the pod
	//     podSelector app=my-app: matches
	//     serviceAccountSelector pci=true: fails pci=true (service account has no label pci)
}
