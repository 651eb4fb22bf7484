package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// readConfig decodes every object of config/*.yaml strictly.
func readConfig(t *testing.T) []runtime.Object {
	t.Helper()
	codecs := serializer.NewCodecFactory(newScheme(t), serializer.EnableStrict)
	files, err := filepath.Glob("config/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var objs []runtime.Object
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, name)
			if strings.TrimSpace(string(doc)) == "" {
				continue
			}
			obj, _, err := codecs.UniversalDeserializer().Decode(doc, nil, nil)
			require.NoError(t, err, "%s:\n%s", name, doc)
			objs = append(objs, obj)
		}
	}
	return objs
}

// TestConfig checks that the deployment manifests agree with the code: the
// webhook paths, the service account the validating webhook trusts, flags
// that parse and validate, and RBAC covering every call the controller makes.
func TestConfig(t *testing.T) {
	var (
		paths    []string
		dep      *appsv1.Deployment
		role     *rbacv1.ClusterRole
		sa       *corev1.ServiceAccount
		webhooks int
	)
	for _, obj := range readConfig(t) {
		switch o := obj.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			for _, w := range o.Webhooks {
				paths = append(paths, *w.ClientConfig.Service.Path)
				webhooks++
			}
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			for _, w := range o.Webhooks {
				paths = append(paths, *w.ClientConfig.Service.Path)
				webhooks++
			}
		case *appsv1.Deployment:
			dep = o
		case *rbacv1.ClusterRole:
			role = o
		case *corev1.ServiceAccount:
			sa = o
		}
	}
	require.Equal(t, 3, webhooks)
	require.ElementsMatch(t, []string{MutatePodPath, ValidatePodPath, ValidatePolicyPath}, paths)
	require.NotNil(t, dep)
	require.NotNil(t, sa)

	var o options
	fs := flagSet(&o)
	require.NoError(t, fs.Parse(dep.Spec.Template.Spec.Containers[0].Args))
	require.NoError(t, o.validate())
	require.Equal(t, "system:serviceaccount:"+sa.Namespace+":"+sa.Name, o.ServiceAccount)
	require.Equal(t, sa.Name, dep.Spec.Template.Spec.ServiceAccountName)

	require.NotNil(t, role)
	allowed := func(group, resource, verb string) bool {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, need := range []struct{ group, resource, verb string }{
		{"", "pods", "watch"}, {"", "pods", "patch"},
		{"", "nodes", "watch"}, {"", "nodes", "patch"}, {"", "nodes/status", "patch"},
		{"", "serviceaccounts", "watch"}, {"", "pods", "get"}, {"", "nodes", "get"},
		{"vpcresources.k8s.aws", "securitygrouppolicies", "watch"},
		{"crd.k8s.amazonaws.com", "eniconfigs", "watch"},
		{"events.k8s.io", "events", "create"},
	} {
		require.True(t, allowed(need.group, need.resource, need.verb), "RBAC lacks %s %s/%s", need.verb, need.group, need.resource)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "-cluster-name is required"},
		{[]string{"-cluster-name=c", "-shards=2", "-shard-index=2"}, "want shards >= 1 and 0 <= shard-index < shards"},
		{[]string{"-cluster-name=c", "-ec2-share=1.5"}, "want a fraction between 0 and 1"},
		{[]string{"-cluster-name=c", "-cooldown=10s"}, "-cooldown 10s: want at least 30s"},
		{[]string{"-cluster-name=c", "-pod-workers=0"}, "-pod-workers 0 -node-workers 10: want at least 1 each"},
		{[]string{"-cluster-name=c", "-max-warm=-2"}, "-max-warm -2: want 0 or more, or -1 for none"},
		{[]string{"-cluster-name=c", "-shards=4", "-shard-index=3", "-ec2-share=0.25"}, ""},
		{[]string{"-cluster-name=c", "-cooldown=30s", "-max-warm=-1", "-kubeconfig=/tmp/kc"}, ""},
	}
	for _, tt := range tests {
		var o options
		require.NoError(t, flagSet(&o).Parse(tt.args))
		err := o.validate()
		if tt.want == "" {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, tt.want)
		}
	}
}
