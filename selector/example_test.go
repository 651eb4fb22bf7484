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

// A webhook classifies the pod first, as the VPC resource controller does,
// and reads its ServiceAccount only when the class needs it; a pod whose
// ServiceAccount does not exist is refused.
func ExamplePod_Class() {
	idx := selector.NewIndex(selector.Options{})
	p, err := v1beta1.Decode([]byte(tutorialPolicy))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := idx.Upsert(p); err != nil {
		fmt.Println(err)
		return
	}
	for _, pod := range []selector.Pod{
		{Namespace: "my-namespace", Labels: map[string]string{"role": "my-role"}},
		{Namespace: "my-namespace", Labels: map[string]string{"role": "my-role"}, NodeSelector: map[string]string{selector.OSLabel: "windows"}},
		{Namespace: "my-namespace", Labels: map[string]string{"role": "my-role"}, NodeSelector: map[string]string{selector.OSLabel: "Windows"}},
		{Namespace: "my-namespace", Labels: map[string]string{"role": "my-role", selector.FargateProfileLabel: "fp"}, NodeSelector: map[string]string{selector.OSLabel: "windows"}},
		{Namespace: "my-namespace", Labels: map[string]string{"role": "my-role"}, ServiceAccountMissing: true},
	} {
		c := pod.Class()
		fmt.Printf("%s (reads the ServiceAccount: %t): %s\n", c, c.NeedsServiceAccount(), idx.Match(pod))
	}
	// Output:
	// Linux (reads the ServiceAccount: true): branch ENI [sg-05b1d815d1e7a3c90] from my-security-group-policy
	// Windows (reads the ServiceAccount: false): not eligible: Windows pod
	// Linux (reads the ServiceAccount: true): branch ENI [sg-05b1d815d1e7a3c90] from my-security-group-policy
	// Fargate (reads the ServiceAccount: true): Fargate [sg-05b1d815d1e7a3c90] from my-security-group-policy
	// Linux (reads the ServiceAccount: true): refused: the pod's ServiceAccount does not exist
}

// Groups come in policy order: the policies by name, each policy's groups in
// the order it lists them, each ID once. That order goes to EC2 and into the
// Fargate annotation.
func ExampleResult_FargateAnnotation() {
	idx := selector.NewIndex(selector.Options{})
	for _, p := range []struct {
		name   string
		groups []string
	}{
		{"web", []string{"sg-0bbbbbbbbbbbbbbb2", "sg-0aaaaaaaaaaaaaaa1"}},
		{"db-clients", []string{"sg-0ccccccccccccccc3", "sg-0bbbbbbbbbbbbbbb2"}},
	} {
		err := idx.Upsert(&v1beta1.SecurityGroupPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: p.name},
			Spec: v1beta1.SecurityGroupPolicySpec{
				PodSelector:    &metav1.LabelSelector{},
				SecurityGroups: v1beta1.GroupIDs{Groups: p.groups},
			},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	r := idx.Match(selector.Pod{Namespace: "shop", FargateProfile: "fp"})
	fmt.Println(r.Policies)
	fmt.Println(r.FargateAnnotation())
	// Output:
	// [db-clients web]
	// sg-0ccccccccccccccc3,sg-0bbbbbbbbbbbbbbb2,sg-0aaaaaaaaaaaaaaa1
}
