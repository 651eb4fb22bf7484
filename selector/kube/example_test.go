package kube_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
)

// A webhook or controller holds the pod and its ServiceAccount from the API
// server; one call turns them into what the index matches.
func ExamplePod() {
	idx := selector.NewIndex(selector.Options{})
	if err := idx.Upsert(&v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-clients"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			ServiceAccountSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"db-access": "true"}},
			SecurityGroups:         v1beta1.GroupIDs{Groups: []string{"sg-0123456789abcdef0"}},
		},
	}); err != nil {
		fmt.Println(err)
		return
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders-0"},
		Spec:       corev1.PodSpec{ServiceAccountName: "orders"},
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: "shop", Name: kube.ServiceAccountName(pod), Labels: map[string]string{"db-access": "true"},
	}}
	fmt.Println(idx.Match(kube.Pod(pod, sa)))
	// Output:
	// branch ENI [sg-0123456789abcdef0] from db-clients
}
