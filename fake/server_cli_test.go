package fake_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// TestCLI drives the server with the AWS CLI (--endpoint-url), the way the
// tutorial's commands would run against it, and checks that EC2's refusals
// reach the CLI as EC2 words them. It skips when aws is not on PATH, unless
// PODSG_REQUIRE_ROOT_TESTS=1 (make test as root, which installs the CLI):
// then it fails.
func TestCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("PODSG_REQUIRE_ROOT_TESTS") == "1" {
			t.Fatal("the AWS CLI (aws) is not on PATH, and PODSG_REQUIRE_ROOT_TESTS=1 requires this test: run make setup as root or install awscli")
		}
		t.Skip("the AWS CLI (aws) is not on PATH; install awscli to run this test")
	}
	f := fake.New(fake.Options{DisableThrottling: true})
	tut, err := fake.SeedTutorial(t.Context(), f)
	require.NoError(t, err)
	srv, _ := startServer(t, f)

	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_DEFAULT_REGION=" + srv.Region(),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=", // CLI v2 would otherwise page output through less
	}
	// Keep pyenv shims working when that is how aws is installed.
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	aws := func(args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(awsBin, append([]string{"ec2", "--endpoint-url", srv.URL(), "--output", "json"}, args...)...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var doc map[string]any
		if err == nil && len(strings.TrimSpace(string(out))) > 0 {
			require.NoError(t, json.Unmarshal(out, &doc), "aws %s printed %s", strings.Join(args, " "), out)
		}
		return doc, stderr.String(), err
	}
	mustAWS := func(args ...string) map[string]any {
		t.Helper()
		doc, stderr, err := aws(args...)
		require.NoError(t, err, "aws %s: %s", strings.Join(args, " "), stderr)
		return doc
	}

	enis := mustAWS("describe-network-interfaces", "--filters", "Name=vpc-id,Values="+tut.VPCID, "Name=status,Values=in-use")
	require.Len(t, enis["NetworkInterfaces"], len(tut.Nodes), "the nodes' primary interfaces")

	sg := mustAWS("create-security-group", "--group-name", "cli-pods", "--description", "made by the CLI", "--vpc-id", tut.VPCID)
	groupID, _ := sg["GroupId"].(string)
	require.True(t, strings.HasPrefix(groupID, "sg-"), "%v", sg)

	auth := mustAWS("authorize-security-group-ingress", "--group-id", groupID, "--protocol", "tcp", "--port", "8080", "--source-group", tut.PodSecurityGroupID)
	rules, _ := auth["SecurityGroupRules"].([]any)
	require.Len(t, rules, 1)
	ruleID, _ := rules[0].(map[string]any)["SecurityGroupRuleId"].(string)
	require.True(t, strings.HasPrefix(ruleID, "sgr-"), "%v", auth)

	revoked := mustAWS("revoke-security-group-ingress", "--group-id", groupID, "--security-group-rule-ids", ruleID)
	require.Equal(t, true, revoked["Return"])
	// The tutorial's own DNS rule, by the ID the seeding reported.
	revoked = mustAWS("revoke-security-group-ingress", "--group-id", tut.ClusterSecurityGroupID, "--security-group-rule-ids", tut.DNSTCPRuleID)
	require.Equal(t, true, revoked["Return"])
	left := mustAWS("describe-security-group-rules", "--filters", "Name=group-id,Values="+tut.ClusterSecurityGroupID)
	for _, r := range left["SecurityGroupRules"].([]any) {
		require.NotEqual(t, tut.DNSTCPRuleID, r.(map[string]any)["SecurityGroupRuleId"])
	}

	mustAWS("delete-security-group", "--group-id", groupID)
	_, stderr, err := aws("delete-security-group", "--group-id", groupID)
	require.Error(t, err, "deleting twice must fail")
	require.Contains(t, stderr, "(InvalidGroup.NotFound)")
	require.Contains(t, stderr, "The security group '"+groupID+"' does not exist")

	// The refusals EC2's contract adds, as the CLI reports them.
	values := make([]string, 201)
	for i := range values {
		values[i] = fmt.Sprintf("i-%017x", i)
	}
	refusals := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown filter", []string{"describe-network-interfaces", "--filters", "Name=colour,Values=blue"},
			[]string{"(InvalidParameterValue)", "The filter 'colour' is invalid"}},
		{"filter EC2 does not document for the operation", []string{"describe-trunk-interface-associations",
			"--filters", "Name=trunk-interface-association.branch-interface-id,Values=eni-0123456789abcdef0"},
			[]string{"(InvalidParameterValue)", "The filter 'trunk-interface-association.branch-interface-id' is invalid"}},
		{"201 filter values", []string{"describe-network-interfaces", "--filters",
			"Name=tag:node.k8s.amazonaws.com/instance_id,Values=" + strings.Join(values, ",")},
			[]string{"(FilterLimitExceeded)", "The maximum number of filter values specified on a single call is 200"}},
		{"IDs with MaxResults", []string{"describe-network-interfaces", "--network-interface-ids", tut.Nodes[0].PrimaryENI,
			"--max-results", "5", "--no-paginate"},
			[]string{"(InvalidParameterCombination)", "cannot be used with the parameter maxResults"}},
		{"MaxResults out of range", []string{"describe-trunk-interface-associations", "--max-results", "256", "--no-paginate"},
			[]string{"(InvalidParameterValue)", "Expecting a value between 5 and 255"}},
	}
	for _, r := range refusals {
		_, stderr, err := aws(r.args...)
		require.Error(t, err, "%s: the CLI must fail", r.name)
		for _, w := range r.want {
			require.Contains(t, stderr, w, r.name)
		}
	}
	// 200 values are fine, and the documented filter on the trunk listing
	// works.
	mustAWS("describe-network-interfaces", "--filters", "Name=tag:node.k8s.amazonaws.com/instance_id,Values="+strings.Join(values[:200], ","))
	mustAWS("describe-trunk-interface-associations", "--filters", "Name=trunk-interface-association.trunk-interface-id,Values=eni-0123456789abcdef0")
}
