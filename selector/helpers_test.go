package selector_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
)

// sgp builds a policy; pod and sa may be nil (unset).
func sgp(ns, name string, pod, sa *metav1.LabelSelector, groups ...string) *v1beta1.SecurityGroupPolicy {
	return &v1beta1.SecurityGroupPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "vpcresources.k8s.aws/v1beta1", Kind: "SecurityGroupPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:            pod,
			ServiceAccountSelector: sa,
			SecurityGroups:         v1beta1.GroupIDs{Groups: groups},
		},
	}
}

func labelsSel(kv ...string) *metav1.LabelSelector {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func exprSel(reqs ...metav1.LabelSelectorRequirement) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: reqs}
}

func req(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func lbls(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var everything = &metav1.LabelSelector{}
