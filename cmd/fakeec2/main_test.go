package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// checkTutorial calls the server the banner describes with the SDK and
// checks that the seeded IDs are there.
func checkTutorial(t *testing.T, line string) banner {
	t.Helper()
	var b banner
	require.NoError(t, json.Unmarshal([]byte(line), &b), line)
	require.NotNil(t, b.Tutorial, line)
	require.Equal(t, "us-west-2", b.Region)
	require.True(t, strings.HasPrefix(b.Endpoint, "http://127.0.0.1:"), b.Endpoint)

	c := fake.NewClient(b.Endpoint, b.Region, func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
	ctx := t.Context()
	rules, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{b.DNSTCPRuleID, b.DNSUDPRuleID}})
	require.NoError(t, err)
	require.Len(t, rules.SecurityGroupRules, 2)
	for _, r := range rules.SecurityGroupRules {
		require.Equal(t, b.ClusterSecurityGroupID, aws.ToString(r.GroupId))
		require.Equal(t, int32(53), aws.ToInt32(r.FromPort))
		require.Equal(t, b.PodSecurityGroupID, aws.ToString(r.ReferencedGroupInfo.GroupId))
	}
	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-type"), Values: []string{b.InstanceType}}}})
	require.NoError(t, err)
	n := 0
	for _, r := range insts.Reservations {
		n += len(r.Instances)
	}
	require.Equal(t, len(b.Nodes), n)
	return b
}

// TestFakeEC2Binary builds the command, runs it, reads the banner, talks to
// it with the SDK and stops it with SIGTERM.
func TestFakeEC2Binary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "fakeec2")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-scenario", "tutorial", "-throttle=false")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderrFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	cmd.Stderr = stderrFile
	stderr := func() string { b, _ := os.ReadFile(stderrFile.Name()); return string(b) }
	require.NoError(t, cmd.Start())
	require.NoError(t, stderrFile.Close(), "the child has its own descriptor; stderr() reads the file by name")
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr())
	checkTutorial(t, line)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	rest, err := io.ReadAll(stdout)
	require.NoError(t, err)
	require.Empty(t, string(rest), "the banner is the only output on stdout")
	require.NoError(t, cmd.Wait(), "exit status after SIGTERM; stderr:\n%s", stderr())
	require.Equal(t, 0, cmd.ProcessState.ExitCode())
	require.Contains(t, stderr(), "msg=stopped")
}

// TestFakeEC2Run runs the command in process and stops it by cancelling
// its context, as a signal would.
func TestFakeEC2Run(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		tutorial bool
	}{
		{"tutorial", []string{"-throttle=false", "-latency", "1ms"}, true},
		{"empty", []string{"-scenario", "empty", "-region", "eu-west-1", "-seed", "7"}, false},
		{"eventual", []string{"-scenario", "empty", "-region", "eu-west-1", "-eventual", "-throttle=false"}, false},
		{"tutorial-ipv6", []string{"-scenario", "tutorial-ipv6", "-throttle=false"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r, w := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- run(ctx, tt.args, w, io.Discard); _ = w.Close() }()
			line, err := bufio.NewReader(r).ReadString('\n')
			require.NoError(t, err)
			if tt.tutorial {
				b := checkTutorial(t, line)
				ipv6 := slices.Contains(tt.args, "tutorial-ipv6")
				c := fake.NewClient(b.Endpoint, b.Region)
				subs, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: b.SubnetIDs})
				require.NoError(t, err)
				for _, s := range subs.Subnets {
					require.Equal(t, ipv6, len(s.Ipv6CidrBlockAssociationSet) == 1, "subnet %s: dual-stack only in the IPv6 scenario", aws.ToString(s.SubnetId))
				}
				require.Equal(t, ipv6, b.VPCIPv6CIDR != "")
			} else {
				require.JSONEq(t, `{"endpoint":"`+jsonField(t, line, "endpoint")+`","region":"eu-west-1","scenario":"empty"}`, line)
				c := fake.NewClient(jsonField(t, line, "endpoint"), "eu-west-1")
				vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
				require.NoError(t, err)
				require.Empty(t, vpcs.Vpcs)
				// A new VPC is known at once, unless EC2 is eventually
				// consistent.
				vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
				require.NoError(t, err)
				_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{aws.ToString(vpc.Vpc.VpcId)}})
				if slices.Contains(tt.args, "-eventual") {
					require.Equal(t, fake.CodeVpcNotFound, fake.ErrorCode(err))
				} else {
					require.NoError(t, err)
				}
			}
			go func() { _, _ = io.Copy(io.Discard, r) }()
			cancel()
			require.NoError(t, <-done)
		})
	}
}

func jsonField(t *testing.T, line, key string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m))
	s, _ := m[key].(string)
	return s
}

func TestFakeEC2Flags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"-scenario", "moto"}, `-scenario "moto" is unknown`},
		{"negative latency", []string{"-latency", "-1s"}, "-latency -1s is negative"},
		{"stray argument", []string{"serve"}, "unexpected arguments"},
		{"bad address", []string{"-listen", "256.0.0.1:http"}, "listen on 256.0.0.1:http"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(t.Context(), tt.args, &out, io.Discard)
			require.ErrorContains(t, err, tt.want)
			require.Empty(t, out.String(), "nothing on stdout when starting fails")
		})
	}
}
