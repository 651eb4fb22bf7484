package fake_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// TestCLI drives the server with the AWS CLI (--endpoint-url), the way the
// tutorial's commands would run against it. It skips when aws is not on PATH.
func TestCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
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
}
