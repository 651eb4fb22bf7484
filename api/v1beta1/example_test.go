package v1beta1_test

import (
	"fmt"

	"github.com/podsg/podsg/api/v1beta1"
)

// The policy of the EKS tutorial, before its placeholder is replaced:
// Validate names the field and the value instead of letting pods get stuck
// in ContainerCreating on InvalidSecurityGroupID.NotFound.
func ExampleValidate() {
	p, err := v1beta1.Decode([]byte(`
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
      - my_pod_security_group_id
      - sg-05b1d815d1e7a3c90
      - sg-05b1d815d1e7a3c90
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range v1beta1.Validate(p, v1beta1.ValidateOptions{}) {
		fmt.Println(e)
	}
	// Output:
	// spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id": want sg- followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0: use the ID of an existing security group
	// spec.securityGroups.groupIds[2]: Duplicate value: "sg-05b1d815d1e7a3c90"
}

func ExampleDecode() {
	p, err := v1beta1.Decode([]byte(`{"apiVersion": "vpcresources.k8s.aws/v1beta1", "kind": "SecurityGroupPolicy",
  "metadata": {"name": "db-clients", "namespace": "shop"},
  "spec": {"serviceAccountSelector": {"matchLabels": {"db-access": "true"}},
           "securityGroups": {"groupIds": ["sg-0123456789abcdef0"]}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Namespace, p.Name, p.Spec.ServiceAccountSelector.MatchLabels, p.Spec.SecurityGroups.Groups)

	_, err = v1beta1.Decode([]byte("apiVersion: vpcresources.k8s.aws/v1beta1\nkind: SecurityGroupPolicy\nspec: {podselector: {}}\n"))
	fmt.Println(err)
	// Output:
	// shop db-clients map[db-access:true] [sg-0123456789abcdef0]
	// invalid SecurityGroupPolicy manifest: unknown field "spec.podselector" (fix the spelling or remove the field)
}
