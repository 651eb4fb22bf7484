package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
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
	`^NAME +READY +STATUS +IP +NODE +BRANCH-ENI +VLAN$`,
	`^my-deployment-5df6f7687b-4fbjm +1/1 +Running +192\.168\.(3[2-9]|[4-9]\d|1[0-2]\d)\.\d+ +ip-192-168-\S+ +eni-[0-9a-f]{17} +\d+$`,
	`^\[\{"eniId":"eni-[0-9a-f]{17}","ifAddress":"02:[0-9a-f:]{14}","privateIp":"192\.168\.\d+\.\d+","ipv6Addr":"","vlanId":\d+,"subnetCidr":"192\.168\.\d+\.0/19"`,
	`^EC2 holds 4 branch ENIs .*, each only in pod security group sg-\w+ and associated with its node's trunk`,
	`^  # DNS udp/53 to CoreDNS .*: allowed .*ingress by sg-\w+ ingress udp 53-53 from sg-\w+\)$`,
	`^  # DNS tcp/53 to CoreDNS .*: allowed .*ingress by sg-\w+ ingress tcp 53-53 from sg-\w+\)$`,
	`^  # Service my-app selects app=my-app: 4 running pods$`,
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
	`^# 5 m5\.large nodes advertise 45 vpc\.amazonaws\.com/pod-eni in all, and 45 pods hold one each: the 46th fits on no node and stays Pending\.$`,
	`^deployment\.apps/my-deployment scaled \(41 more branch ENIs cooling down\)$`,
}

// cleanupLines are the key lines of step 7.
var cleanupLines = []string{
	`^== Step 7: clean up$`,
	`^0$`,
	`^\{ "Return": true, "GroupId": "sg-\w+" \}$`,
	`^EC2 holds no branch ENI, and it deleted the pod security group\.$`,
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

// TestTutorialEventual runs the tutorial as go run -eventual does: against
// an eventually consistent EC2 (fake.EventualConsistency), where new IDs are
// unknown for a moment and listings lag behind. Its output is the same.
func TestTutorialEventual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		o := options{Region: fake.DefaultRegion, Eventual: true}
		client, _, err := newClient(t.Context(), o)
		require.NoError(t, err)
		require.NoError(t, run(t.Context(), &out, client, o))
		checkKeyLines(t, out.String(), true)
		f := client.(*fake.EC2)
		// The Manager waits until EC2 lists a new ENI before associating it.
		require.Zero(t, f.Count(fake.ActionAssociateTrunkInterface).Errors, "no association met an ENI EC2 did not know yet")
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
	_, _, err = newClient(t.Context(), options{Endpoint: "http://127.0.0.1:8080", Eventual: true})
	require.ErrorContains(t, err, "-eventual applies to the embedded fake")
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

// TestBuildWorldEventuallyConsistent builds the tutorial's world against an
// eventually consistent EC2: the calls that name a VPC, subnet or group
// created a moment ago meet NotFound and retry, and the nodes are running
// when buildWorld returns.
func TestBuildWorldEventuallyConsistent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := fake.New(fake.Options{Consistency: fake.EventualConsistency()})
		w, err := buildWorld(ctx, f, fake.DefaultRegion)
		require.NoError(t, err)
		require.Positive(t, f.Count(fake.ActionCreateSubnet).Errors, "CreateSubnet met the VPC before it propagated")
		require.Positive(t, f.Count(fake.ActionDescribeInstances).Calls, "the nodes were waited for")
		ids := make([]string, len(w.Nodes))
		for i, n := range w.Nodes {
			ids[i] = n.InstanceID
		}
		out, err := f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		require.NoError(t, err)
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				require.Equal(t, types.InstanceStateNameRunning, in.State.Name)
			}
		}
	})
}

// TestAwaitENIs checks that the tutorial reports what EC2 lists once the
// listing has caught up, and fails when it never does.
func TestAwaitENIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := fake.New(fake.Options{DisableThrottling: true, Consistency: fake.Consistency{Create: fake.Fixed(3 * time.Second)}})
		vpc := f.AddVPC("10.0.0.0/16")
		subnet := f.AddSubnet(vpc, "10.0.0.0/24", "")
		tut := &tutorial{client: f, w: &world{VPCID: vpc}}
		for i := range 3 {
			_, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet),
				Description: aws.String("d"), ClientToken: aws.String(fmt.Sprint(i))})
			require.NoError(t, err)
		}
		enis, err := tut.listENIs(ctx, "d")
		require.NoError(t, err)
		require.Empty(t, enis, "one look right after the creations shows none of them")
		n, err := tut.awaitENIs(ctx, "d", 3)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		_, err = tut.awaitENIs(ctx, "d", 4)
		require.ErrorIs(t, err, errNotSettled)
		require.ErrorContains(t, err, "it lists 3")
	})
}
