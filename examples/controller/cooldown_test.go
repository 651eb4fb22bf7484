package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/eni"
)

// TestParseCoolDown reads branch-eni-cooldown values as the VPC resource
// controller does (strconv.Atoi seconds in GetVpcCniConfigMapCoolDownPeriodOrDefault,
// raised to 30 s in GetCoolDownPeriod, pkg/provider/branch/cooldown/cooldown.go).
func TestParseCoolDown(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"60", 60 * time.Second, ""},
		{"30", 30 * time.Second, ""},
		{"31", 31 * time.Second, ""},
		{"600", 10 * time.Minute, ""},
		{"+45", 45 * time.Second, ""},
		{"0045", 45 * time.Second, ""},
		{"29", eni.MinCoolDown, ""},
		{"10", eni.MinCoolDown, ""},
		{"0", eni.MinCoolDown, ""},
		{"-5", eni.MinCoolDown, ""},
		{"-99999999999999", eni.MinCoolDown, ""},
		{"45s", 0, `branch-eni-cooldown "45s": want a whole number of seconds`},
		{" 45", 0, "want a whole number of seconds"},
		{"", 0, "want a whole number of seconds"},
		{"1.5", 0, "want a whole number of seconds"},
		{"99999999999999999999", 0, "want a whole number of seconds"},
		{"9300000000", 0, "more seconds than a cool-down can hold"},
	} {
		got, err := ParseCoolDown(tt.value)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, "%q", tt.value)
			continue
		}
		require.NoError(t, err, "%q", tt.value)
		require.Equal(t, tt.want, got, "%q", tt.value)
	}
}

// TestCoolDownFromConfigMap drives CoolDownReconciler through the life of the
// amazon-vpc-cni ConfigMap, as the VPC resource controller's
// ConfigMapReconciler (controllers/core/configmap_controller.go) handles it:
// a valid value is taken (under 30 s raised to 30 s); no ConfigMap, no key or
// a value that does not parse keeps the current cool-down.
func TestCoolDownFromConfigMap(t *testing.T) {
	e := newEnv(t)
	r := &CoolDownReconciler{Reader: e.client, Trunk: e.tm, Events: e.rec}
	reconcileCM := func() {
		t.Helper()
		e.reconcile(r, CoolDownConfigMapNamespace, CoolDownConfigMapName)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: CoolDownConfigMapNamespace, Name: CoolDownConfigMapName}}
	set := func(data map[string]string) {
		t.Helper()
		cm.Data = data
		require.NoError(t, e.client.Update(t.Context(), cm))
		reconcileCM()
	}
	drain := func() []string {
		var got []string
		for {
			select {
			case ev := <-e.rec.Events:
				got = append(got, ev)
			default:
				return got
			}
		}
	}
	drain()

	// No ConfigMap: the default.
	reconcileCM()
	require.Equal(t, eni.DefaultCoolDown, e.tm.CoolDown())

	// The ConfigMap of the VPC CNI, without the key.
	cm.Data = map[string]string{"enable-windows-ipam": "false"}
	require.NoError(t, e.client.Create(t.Context(), cm))
	reconcileCM()
	require.Equal(t, eni.DefaultCoolDown, e.tm.CoolDown())
	require.Empty(t, drain())

	set(map[string]string{CoolDownKey: "10"})
	require.Equal(t, eni.MinCoolDown, e.tm.CoolDown(), "10 s is raised to 30 s")
	require.Equal(t, []string{`Normal BranchENICoolDownUpdated branch ENI cool-down is now 30s (branch-eni-cooldown: "10"; was 1m0s)`}, drain())

	set(map[string]string{CoolDownKey: "90"})
	require.Equal(t, 90*time.Second, e.tm.CoolDown())
	_, err := e.tm.EnsureNode(t.Context(), e.tut.Nodes[0].InstanceID)
	require.NoError(t, err)
	p, ok := e.tm.Pool(e.tut.Nodes[0].InstanceID)
	require.True(t, ok)
	require.Equal(t, 90*time.Second, p.Policy().CoolDown, "the pools follow")
	drain()

	set(map[string]string{CoolDownKey: "ninety"})
	require.Equal(t, 90*time.Second, e.tm.CoolDown(), "an invalid value keeps the current cool-down")
	evs := drain()
	require.Len(t, evs, 1)
	require.True(t, strings.HasPrefix(evs[0], `Warning InvalidBranchENICoolDown branch-eni-cooldown "ninety": want a whole number of seconds`), evs[0])

	set(map[string]string{CoolDownKey: "90"})
	require.Empty(t, drain(), "no change, no event")

	set(map[string]string{"enable-windows-ipam": "false"})
	require.Equal(t, 90*time.Second, e.tm.CoolDown(), "a removed key keeps the current cool-down")

	require.NoError(t, e.client.Delete(t.Context(), cm))
	reconcileCM()
	require.Equal(t, 90*time.Second, e.tm.CoolDown(), "a deleted ConfigMap keeps the current cool-down")

	// Another ConfigMap of that name elsewhere is not the VPC CNI's.
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: CoolDownConfigMapName},
		Data: map[string]string{CoolDownKey: "45"}}
	require.NoError(t, e.client.Create(t.Context(), other))
	e.reconcile(r, "my-namespace", CoolDownConfigMapName)
	require.Equal(t, 90*time.Second, e.tm.CoolDown())
}

// TestCoolDownRBAC: the controller may list and watch the amazon-vpc-cni
// ConfigMap of kube-system, by name, and no other ConfigMap.
func TestCoolDownRBAC(t *testing.T) {
	var rules []rbacv1.PolicyRule
	bound := false
	for _, obj := range readConfig(t) {
		switch o := obj.(type) {
		case *rbacv1.Role:
			for _, r := range o.Rules {
				if len(r.Resources) > 0 && r.Resources[0] == "configmaps" {
					require.Equal(t, CoolDownConfigMapNamespace, o.Namespace)
					rules = append(rules, r)
				}
			}
		case *rbacv1.ClusterRole:
			for _, r := range o.Rules {
				require.NotContains(t, r.Resources, "configmaps", "no cluster-wide access to ConfigMaps")
			}
		case *rbacv1.RoleBinding:
			if o.RoleRef.Name == "podsg-controller-vpc-cni-config" {
				require.Equal(t, CoolDownConfigMapNamespace, o.Namespace)
				require.Equal(t, "podsg-controller", o.Subjects[0].Name)
				bound = true
			}
		}
	}
	require.True(t, bound)
	require.Len(t, rules, 1)
	require.Equal(t, []string{""}, rules[0].APIGroups)
	require.Equal(t, []string{"configmaps"}, rules[0].Resources)
	require.Equal(t, []string{CoolDownConfigMapName}, rules[0].ResourceNames)
	require.ElementsMatch(t, []string{"list", "watch"}, rules[0].Verbs)
}
