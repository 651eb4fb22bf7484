package main

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
)

// keyLines are lines (as regular expressions) the tutorial must print, in
// this order: each step's decisive output.
var keyLines = []string{
	`^== Step 1: `,
	`^ip-192-168-\d+-\d+\.us-west-2\.compute\.internal +Ready +192\.168\.\d+\.\d+ +i-[0-9a-f]{17} +m5\.large +eni-[0-9a-f]{17} +9$`,
	`^EC2 holds 5 trunk ENIs`,
	`^securitygrouppolicy\.vpcresources\.k8s\.aws/my-security-group-policy created \(validated`,
	`^NAME +READY +STATUS +RESTARTS +IP +NODE +BRANCH-ENI +VLAN$`,
	`^my-deployment-5df6f7687b-4fbjm +1/1 +Running +0 +192\.168\.(3[2-9]|[4-9]\d|1[0-2]\d)\.\d+ +ip-192-168-\S+ +eni-[0-9a-f]{17} +\d+$`,
	`^\[\{"eniId":"eni-[0-9a-f]{17}","ifAddress":"02:[0-9a-f:]{14}","privateIp":"192\.168\.\d+\.\d+","ipv6Addr":"","vlanId":\d+,"subnetCidr":"192\.168\.\d+\.0/19"`,
	`^EC2 holds 4 branch ENIs`,
	`^  # DNS udp/53 to CoreDNS .*: allowed .*ingress by sg-\w+ ingress udp 53-53 from sg-\w+\)$`,
	`^  # DNS tcp/53 to CoreDNS .*: allowed .*ingress by sg-\w+ ingress tcp 53-53 from sg-\w+\)$`,
	`^  # HTTP tcp/80 to pod .*: allowed .*ingress by (sg-\w+) ingress tcp 80-80 from (sg-\w+)\)$`,
	`^<!DOCTYPE html> <html> <head> <title>Welcome to nginx!</title>`,
	`^\$ aws ec2 revoke-security-group-ingress --group-id sg-\w+ --security-group-rule-ids sgr-\w+$`,
	`^\{ "Return": true \}$`,
	`^  # DNS udp/53 to CoreDNS .*: DENIED: no ingress rule allows it$`,
	`^curl: \(6\) Could not resolve host: my-app$`,
	`^\$ kubectl exec -it -n my-namespace my-deployment-5df6f7687b-4fbjm -- curl 192\.168\.\d+\.\d+$`,
	`^<!DOCTYPE html>`,
}

// troubleLines are the key lines of the troubleshooting cases, printed
// between step 6 and step 7.
var troubleLines = []string{
	`FailedCreatePodSandBox .*InvalidSecurityGroupID\.NotFound: The securityGroup ID 'sg-05b1d815d1e7a3c90' does not exist$`,
	`^ERROR security-group-not-found: security group sg-05b1d815d1e7a3c90$`,
	`^ +1 Pending$`,
	`^ +45 Running$`,
	`Warning  FailedScheduling  0/5 nodes are available: 5 Insufficient vpc\.amazonaws\.com/pod-eni\.$`,
	`^deployment\.apps/my-deployment scaled \(41 branch ENIs cool down`,
}

// cleanupLines are the key lines of step 7.
var cleanupLines = []string{
	`^== Step 7: clean up$`,
	`^0$`,
	`^\{ "Return": true, "GroupId": "sg-\w+" \}$`,
	`^EC2 holds no branch ENI, and the pod security group is gone\.$`,
}

// checkKeyLines requires every key line, in order, with or without the
// troubleshooting cases.
func checkKeyLines(t *testing.T, out string, trouble bool) {
	t.Helper()
	lines := strings.Split(out, "\n")
	want := slices.Clone(keyLines)
	cooling := `^branch ENIs cooling down: 4 `
	if trouble {
		want = append(want, troubleLines...)
		cooling = `^branch ENIs cooling down: 45 `
	}
	want = append(want, cleanupLines[0], cooling)
	want = append(want, cleanupLines[1:]...)
	i := 0
	for _, k := range want {
		re := regexp.MustCompile(k)
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		require.Less(t, i, len(lines), "no line matching %q in order; output:\n%s", k, out)
		i++
	}
}

// TestTutorial runs the tutorial as go run does, in a synctest bubble so
// that the EC2 budget's waits take no wall time.
func TestTutorial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		client := fake.New()
		require.NoError(t, run(t.Context(), &out, client, options{Region: fake.DefaultRegion}))
		checkKeyLines(t, out.String(), true)
		require.Contains(t, out.String(), "drain the nodes' pools")
		require.Equal(t, 0, client.Count(fake.ActionAssociateTrunkInterface).Errors)
	})
}

// TestTutorialWaitsCoolDown runs the tutorial with -wait in a synctest
// bubble: the branch ENIs are deleted by the manager once their cool-down
// has passed (in virtual time), not by draining.
func TestTutorialWaitsCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		client := fake.New()
		err := run(t.Context(), &out, client, options{Region: fake.DefaultRegion, Wait: true, CoolDown: eni.MinCoolDown})
		require.NoError(t, err)
		checkKeyLines(t, out.String(), true)
		require.Contains(t, out.String(), "$ sleep 30s  # the cool-down")
		require.NotContains(t, out.String(), "drain")
		// Every branch ENI was disassociated and deleted after its cool-down.
		require.Equal(t, 45+1, client.Count(fake.ActionCreateNetworkInterface).Calls-5, "one per pod started, plus the typo pod's refused call")
		require.Equal(t, 45, client.Count(fake.ActionDeleteNetworkInterface).OK)
	})
}

func TestTutorialRefusesRealEC2(t *testing.T) {
	_, _, err := newClient(t.Context(), options{Endpoint: "https://ec2.us-west-2.amazonaws.com"})
	require.ErrorContains(t, err, "allow-listed")
	_, _, err = newClient(t.Context(), options{Endpoint: "127.0.0.1:8080"})
	require.ErrorContains(t, err, "want a URL")
}

// TestTutorialOverHTTP runs the tutorial with the SDK's EC2 client against
// the fake served over HTTP, the path -endpoint takes.
func TestTutorialOverHTTP(t *testing.T) {
	srv, err := fake.NewServer(fake.New())
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	var out bytes.Buffer
	client := fake.NewClient(ts.URL, fake.DefaultRegion)
	require.NoError(t, run(t.Context(), &out, client, options{Endpoint: ts.URL, Region: fake.DefaultRegion, SkipTroubleshooting: true}))
	checkKeyLines(t, out.String(), false)
	require.Contains(t, out.String(), "on EC2 at "+ts.URL)
}
