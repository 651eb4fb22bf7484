package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/limits"
)

// runCLI runs one podsg command line in process and returns its exit status
// and output.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(stdin), &out, &errOut)
	c.newEC2 = func(context.Context, ec2Options) (ec2Client, error) {
		t.Fatalf("podsg %s reached for EC2", strings.Join(args, " "))
		return nil, nil
	}
	code = c.run(t.Context(), args)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, exitUsage, "", "Commands:"},
		{"help", []string{"help"}, exitOK, "limits", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"; the commands are limits, match, plan, preflight`},
		{"command help", []string{"limits", "-h"}, exitOK, "Usage: podsg limits", ""},
		{"unknown flag", []string{"limits", "--frob", "m5.large"}, exitUsage, "", "flag provided but not defined: -frob\nRun 'podsg limits -h' for usage."},
		{"bad output", []string{"limits", "m5.large", "-o", "xml"}, exitUsage, "", `unknown output format -o "xml"; use one of text, wide, json, yaml`},
		{"limits without types", []string{"limits"}, exitUsage, "", "name at least one instance type"},
		{"match without files", []string{"match"}, exitUsage, "", "give the policies and pods with -f"},
		{"plan without annotation", []string{"plan", "--node-ip", "10.0.0.5", "--vpc-cidr", "10.0.0.0/16"}, exitUsage, "", "give the pod's branch ENI with --annotation"},
		{"plan bad mode", []string{"plan", "--mode", "lenient"}, exitUsage, "", `--mode: enforce: Mode = "lenient": want "strict" or "standard"`},
		{"preflight without cluster", []string{"preflight", "-f", "x.yaml"}, exitUsage, "", "give the cluster description with --cluster FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tt.args...)
			require.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			require.Contains(t, stdout, tt.wantStdout)
			require.Contains(t, stderr, tt.wantStderr)
			if tt.wantStderr == "" {
				require.Empty(t, stderr)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "limits", "m5.large", "c6g.xlarge", "t3.micro")
	require.Equal(t, exitOK, code, stderr)
	want := `INSTANCE TYPE  TRUNKING  BRANCH ENIS  ENIS  IPV4/ENI  MAX PODS
m5.large       yes       9            3     10        29
c6g.xlarge     yes       18           4     15        58
t3.micro       no        0            2     2         4
`
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("podsg limits (-want +got):\n%s", diff)
	}

	// Flags after the arguments, as kubectl allows; JSON decodes back to
	// the table's rows.
	code, stdout, stderr = runCLI(t, "", "limits", "M5.LARGE", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var rows []limitsRow
	require.NoError(t, json.Unmarshal([]byte(stdout), &rows))
	l, err := limits.Lookup("m5.large")
	require.NoError(t, err)
	if diff := cmp.Diff([]limitsRow{{Limits: l, MaxPods: 29}}, rows); diff != "" {
		t.Errorf("podsg limits -o json (-want +got):\n%s", diff)
	}

	code, stdout, _ = runCLI(t, "", "limits", "-o", "wide", "m5.large")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "NETWORK CARDS  DEFAULT CARD  HYPERVISOR  BARE METAL")
	require.Contains(t, stdout, "0:3            0             nitro       no")

	code, stdout, _ = runCLI(t, "", "limits", "-o", "yaml", "m5.large")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "- bareMetal: false\n")
	require.Contains(t, stdout, "  maxBranchENIs: 9\n")

	code, stdout, _ = runCLI(t, "", "limits", "--all")
	require.Equal(t, exitOK, code)
	require.Equal(t, limits.Default().Len()+1, strings.Count(stdout, "\n"))
}

func TestLimitsUnknownType(t *testing.T) {
	// Known types are printed; the unknown one is an error that says how
	// to supply it, and the status is 1.
	code, stdout, stderr := runCLI(t, "", "limits", "m5.large", "m99.huge")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stdout, "m5.large ")
	require.Contains(t, stderr, `podsg limits: limits: instance type "m99.huge" is not in the built-in table`)
	require.Contains(t, stderr, "override")
}

func TestLimitsOverrides(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "overrides.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`instanceTypes:
  - instanceType: m9.large
    maxENIs: 3
    ipv4PerENI: 10
    trunkingCompatible: true
    maxBranchENIs: 9
    defaultNetworkCard: 0
    networkCards:
      - {index: 0, maxENIs: 3}
    hypervisor: nitro
    bareMetal: false
`), 0o600))
	code, stdout, stderr := runCLI(t, "", "limits", "--overrides", file, "m9.large")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "m9.large       yes       9            3     10        29")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("instanceTypes:\n  - instanceType: m9.large\n"), 0o600))
	code, _, stderr = runCLI(t, "", "limits", "--overrides", bad, "m9.large")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "bad.yaml")
	require.Contains(t, stderr, "maxENIs")
}

func TestMatchTutorial(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "match", "-f", "testdata/my-security-group-policy.yaml", "-f", "testdata/sample-application.yaml")
	require.Equal(t, exitOK, code, stderr)
	want := `deployment my-namespace/my-deployment (pod template), 4 replicas: branch ENI [sg-05b1d815d1e7a3c90] from my-security-group-policy
  policy my-security-group-policy: selects the pod, groups [sg-05b1d815d1e7a3c90]
    podSelector role=my-role: matches
    serviceAccountSelector: not set
  => requests vpc.amazonaws.com/pod-eni: 1 and gets a branch ENI with these groups
`
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("podsg match (-want +got):\n%s", diff)
	}
	require.Empty(t, stderr)
}

func TestMatchTreatments(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "match", "-f", "testdata/pods.yaml", "-o", "wide")
	require.Equal(t, exitOK, code, stderr)
	want := `NAMESPACE  KIND  NAME              REPLICAS  TREATMENT                                 GROUPS                POLICIES
shop       Pod   orders-1          1         branch ENI                                sg-0123456789abcdef0  db-clients
shop       Pod   web-1             1         not eligible (no policy selects the pod)  <none>                <none>
shop       Pod   payments-fargate  1         Fargate                                   sg-0fedcba9876543210  payments
shop       Pod   payments-host     1         not eligible (host network)               <none>                <none>
`
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("podsg match -o wide (-want +got):\n%s", diff)
	}

	// The explanation names the failed requirement and the label it met.
	code, stdout, _ = runCLI(t, "", "match", "-f", "testdata/pods.yaml")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, `pod shop/web-1: not eligible: no policy selects the pod
  policy db-clients: does not select the pod
    podSelector: not set
    serviceAccountSelector db-access=true: fails db-access=true (service account has no label db-access)
  policy payments: does not select the pod
    podSelector role=payments: fails role=payments (pod label role is "web")
`)
	require.Contains(t, stdout, `  => annotation fargate.amazonaws.com/pod-sg: "sg-0fedcba9876543210"`)
}

func TestMatchStdinAndJSON(t *testing.T) {
	policy, err := os.ReadFile("testdata/my-security-group-policy.yaml")
	require.NoError(t, err)
	app, err := os.ReadFile("testdata/sample-application.yaml")
	require.NoError(t, err)
	stdin := string(policy) + "\n---\n" + string(app)
	code, stdout, stderr := runCLI(t, stdin, "match", "-f", "-", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var got []matchJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Len(t, got, 1)
	require.Equal(t, "my-deployment", got[0].Name)
	require.Equal(t, []string{"sg-05b1d815d1e7a3c90"}, got[0].Groups)
	require.Equal(t, "branch ENI", got[0].Treatment)
	require.True(t, got[0].Explanation[0].PodSelector.Matched)
}

func TestMatchInvalidInput(t *testing.T) {
	// An invalid policy is reported and still matched, as the VPC resource
	// controller would.
	code, stdout, stderr := runCLI(t, "", "match", "-f", "testdata/bad-policy.yaml", "-f", "testdata/sample-application.yaml")
	require.Equal(t, exitOK, code)
	require.Contains(t, stderr, `warning: SecurityGroupPolicy my-namespace/my-security-group-policy: spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id"`)
	require.Contains(t, stdout, "    invalid: spec.securityGroups.groupIds[0]")

	tests := []struct {
		name, stdin, want string
	}{
		{"no kind", "metadata: {name: x}\n", "<stdin>: document 1: no kind"},
		{"not yaml", "a: [b\n", "<stdin>: document 1: not YAML or JSON"},
		{"unknown policy field", "apiVersion: vpcresources.k8s.aws/v1beta1\nkind: SecurityGroupPolicy\nmetadata: {name: p}\nspec: {podSelektor: {}}\n", "podSelektor"},
		{"no pods", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "the manifests hold no pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.stdin, "match", "-f", "-")
			require.Equal(t, exitFailure, code)
			require.Contains(t, stderr, tt.want)
		})
	}
	code, _, stderr = runCLI(t, "", "match", "-f", "testdata/missing.yaml")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "give -f a file, a directory or - for standard input")
}

const testAnnotation = `[{"eniId":"eni-0a1b2c3d4e5f60718","ifAddress":"02:42:c0:a8:21:07","privateIp":"192.168.33.7","vlanId":3,"subnetCidr":"192.168.32.0/19","associationID":"trunk-assoc-0123456789abcdef0"}]`

func TestPlan(t *testing.T) {
	node := []string{"--node-ip", "192.168.40.12", "--vpc-cidr", "192.168.0.0/16"}
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{
			name: "strict setup",
			args: []string{"--mode", "strict", "--pod", "my-namespace/my-app-1", "--annotation", testAnnotation},
			want: []string{
				"my-namespace/my-app-1 (strict mode)",
				"ip link add link eth1 name vlan.eth.3 mtu 9001 address 02:42:c0:a8:21:07 type vlan id 3",
				"ip route replace default via 192.168.32.1 dev vlan.eth.3 table 103",
				"ip rule add pref 10 iif vlan.eth.3 lookup 103",
			},
			notWant: []string{"pref 1536 from 192.168.33.7/32 lookup"},
		},
		{
			name: "standard setup",
			args: []string{"--mode", "standard", "--pod", "my-namespace/my-app-1", "--annotation", testAnnotation, "--trunk-link", "ens6"},
			want: []string{
				"type vlan id 3",
				"link ens6",
				"ip rule add pref 1536 from 192.168.33.7/32 lookup 103",
				"ip rule add pref 512 to 192.168.33.7/32 lookup main",
			},
		},
		{
			name:    "teardown",
			args:    []string{"--teardown", "--pod", "my-namespace/my-app-1", "--annotation", testAnnotation},
			want:    []string{"ip link del vlan.eth.3"},
			notWant: []string{"ip link add"},
		},
		{
			name:    "commands",
			args:    []string{"--pod", "my-namespace/my-app-1", "--annotation", testAnnotation, "-o", "commands"},
			want:    []string{"\nip rule add pref 10 iif vlan.eth.3 lookup 103\n"},
			notWant: []string{"#!/bin/sh", "set -e"},
		},
		{
			name: "node",
			args: []string{"--node", "--mode", "standard"},
			want: []string{"AWS-SNAT-CHAIN-0", "192.168.40.12", "AWS-CONNMARK-CHAIN-0", "--set-mark 0x80/0x80", "sysctl -q -w net.ipv4.tcp_early_demux=1"},
		},
		{
			name:    "node on nf_tables, NodePort support off, early demux off",
			args:    []string{"--node", "--nftables", "--disable-node-port-support", "--disable-tcp-early-demux"},
			want:    []string{"nft add table ip aws-cni", "iptables -w -t nat -D PREROUTING -i eni+ -m comment --comment 'AWS, outbound connections' -j AWS-CONNMARK-CHAIN-0", "-D PREROUTING -i eth0 -m comment --comment 'AWS, primary ENI' -m addrtype", "net.ipv4.tcp_early_demux=0"},
			notWant: []string{"-A AWS-CONNMARK-CHAIN-0"},
		},
		{
			name:    "IPv6",
			args:    []string{"--ipv6", "--pod", "my-namespace/my-app-1", "--annotation", strings.Replace(testAnnotation, `"vlanId":3`, `"ipv6Addr":"2600:1f14::7","subnetV6Cidr":"2600:1f14::/64","vlanId":3`, 1)},
			want:    []string{"ip -6 addr replace 2600:1f14::7/128 dev eth0 nodad", "ip -6 route replace default via fe80:ec2::1 dev vlan.eth.3 table 103"},
			notWant: []string{"10.0.0.7/32"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"plan"}, tt.args...), node...)
			code, stdout, stderr := runCLI(t, "", args...)
			require.Equal(t, exitOK, code, stderr)
			for _, w := range tt.want {
				require.Contains(t, stdout, w)
			}
			for _, w := range tt.notWant {
				require.NotContains(t, stdout, w)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no node ip", []string{"--pod", "a/b", "--annotation", testAnnotation}, exitFailure, "--node-ip"},
		{"bad annotation", []string{"--pod", "a/b", "--annotation", strings.Replace(testAnnotation, `"vlanId":3`, `"vlanId":0`, 1), "--node-ip", "10.0.0.5", "--vpc-cidr", "10.0.0.0/16"}, exitFailure, "--annotation: "},
		{"pod without namespace", []string{"--pod", "b", "--annotation", testAnnotation, "--node-ip", "10.0.0.5", "--vpc-cidr", "10.0.0.0/16"}, exitUsage, `--pod "b": give the pod as namespace/name`},
		{"bad cidr", []string{"--vpc-cidr", "10.0.0/16"}, exitUsage, `--vpc-cidr "10.0.0/16"`},
		{"node with pod", []string{"--node", "--pod", "a/b", "--node-ip", "10.0.0.5", "--vpc-cidr", "10.0.0.0/16"}, exitUsage, "--node prints the node-level plan"},
		{"IPv4 branch on an IPv6 node", []string{"--ipv6", "--pod", "a/b", "--annotation", testAnnotation}, exitFailure, "--annotation ipv6Addr = \"\": this node is IPv6 (--ipv6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append([]string{"plan"}, tt.args...)...)
			require.Equal(t, tt.code, code, stderr)
			require.Contains(t, stderr, tt.want)
		})
	}
}

// runPreflight runs podsg preflight against a fake EC2 seeded with the
// tutorial, with a cluster description written from the seeded IDs.
func runPreflight(t *testing.T, mutate func(f *fake.EC2, tut fake.Tutorial), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	f := fake.New()
	tut, err := fake.SeedTutorial(t.Context(), f)
	require.NoError(t, err)
	if mutate != nil {
		mutate(f, tut)
	}
	cluster := fmt.Sprintf(`name: %s
vpcId: %s
clusterSecurityGroup: %s
cni:
  version: v1.18.3
  enablePodENI: true
  disableTCPEarlyDemux: true
coreDNS:
  securityGroups: [%s]
nodeGroups:
  - name: my-nodegroup
    instanceTypes: [m5.large]
    nodes: 5
    securityGroups: [%s, %s]
`, tut.ClusterName, tut.VPCID, tut.ClusterSecurityGroupID, tut.ClusterSecurityGroupID, tut.ClusterSecurityGroupID, tut.NodeSecurityGroupID)
	policy := fmt.Sprintf(`apiVersion: vpcresources.k8s.aws/v1beta1
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
      - %s
`, tut.PodSecurityGroupID)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(cluster), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy), 0o600))

	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.newEC2 = func(_ context.Context, o ec2Options) (ec2Client, error) {
		require.Equal(t, "http://127.0.0.1:1", o.Endpoint)
		return f, nil
	}
	all := append([]string{"preflight", "--cluster", filepath.Join(dir, "cluster.yaml"),
		"-f", filepath.Join(dir, "policy.yaml"), "-f", "testdata/sample-application.yaml",
		"--endpoint", "http://127.0.0.1:1"}, args...)
	code = c.run(t.Context(), all)
	return code, out.String(), errOut.String()
}

func TestPreflight(t *testing.T) {
	// The tutorial's setup passes.
	code, stdout, stderr := runPreflight(t, nil)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.NotContains(t, stdout, "ERROR")

	// Without the DNS rules (the tutorial's step 7), preflight says that
	// name resolution will fail, and exits 3.
	code, stdout, stderr = runPreflight(t, func(f *fake.EC2, tut fake.Tutorial) {
		_, err := f.RevokeSecurityGroupIngress(t.Context(), revokeByID(tut.ClusterSecurityGroupID, tut.DNSTCPRuleID, tut.DNSUDPRuleID))
		require.NoError(t, err)
	})
	require.Equal(t, exitFindings, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "dns-ingress-blocked")
	require.Contains(t, stderr, "pods would be stuck or broken")

	// Without the self rule, "curl my-app" between the pods fails: the
	// Service's target port 80 is a peer port.
	code, stdout, _ = runPreflight(t, func(f *fake.EC2, tut fake.Tutorial) {
		_, err := f.RevokeSecurityGroupIngress(t.Context(), revokeByID(tut.PodSecurityGroupID, tut.PodSelfRuleID))
		require.NoError(t, err)
	}, "-o", "json")
	require.Equal(t, exitFindings, code)
	var report struct {
		Findings []struct {
			Code    string `json:"code"`
			Subject string `json:"subject"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &report))
	var codes []string
	for _, f := range report.Findings {
		codes = append(codes, f.Code)
	}
	require.Contains(t, codes, "peer-traffic-blocked")
}

func TestPreflightBadOptions(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--check", "dnss"}, `--check[0] = "dnss": not a check`},
		{[]string{"--max-groups", "17"}, "--max-groups = 17: want the account's quota"},
	} {
		code, _, stderr := runPreflight(t, nil, tt.args...)
		require.Equal(t, exitUsage, code, stderr)
		require.Contains(t, stderr, tt.want)
	}
}

func TestPreflightBadCluster(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.yaml")
	require.NoError(t, os.WriteFile(file, []byte("name: x\nnodeGroupz: []\n"), 0o600))
	code, _, stderr := runCLI(t, "", "preflight", "--cluster", file)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "nodeGroupz")

	require.NoError(t, os.WriteFile(file, []byte("name: x\ncni: {enforcingMode: strikt}\n"), 0o600))
	code, _, stderr = runCLI(t, "", "preflight", "--cluster", file)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, `Mode = "strikt": want "strict" or "standard"`)
}

func revokeByID(groupID string, ruleIDs ...string) *ec2.RevokeSecurityGroupIngressInput {
	return &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(groupID), SecurityGroupRuleIds: ruleIDs}
}

func TestLimitsFromEC2(t *testing.T) {
	// EC2 knows m9.large; the built-in table does not.
	m9 := limits.Limits{InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10, TrunkingCompatible: true, MaxBranchENIs: 9,
		NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: limits.HypervisorNitro}
	table, err := limits.WithOverrides(m9)
	require.NoError(t, err)
	f := fake.New(fake.Options{Limits: table})
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := newCLI(strings.NewReader(""), &out, &errOut)
		c.newEC2 = func(context.Context, ec2Options) (ec2Client, error) { return f, nil }
		return c.run(t.Context(), args), out.String(), errOut.String()
	}

	code, _, stderr := run("limits", "m9.large")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, `"m9.large" is not in the built-in table`)

	// EC2 gives its ENIs and addresses, not its branch ENIs.
	code, stdout, stderr := run("limits", "--ec2", "m9.large", "m5.large")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "m9.large       no        0            3     10        29")
	require.Contains(t, stdout, "m5.large       yes       9")

	code, stdout, stderr = run("limits", "--ec2", "--branch-enis", "m9.large=9", "m9.large")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "m9.large       yes       9            3     10        29")

	code, _, stderr = run("limits", "--branch-enis", "m9.large=9", "m9.large")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--branch-enis needs --ec2")
	code, _, stderr = run("limits", "--ec2", "--branch-enis", "m9.large", "m9.large")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "want TYPE=N")
}
