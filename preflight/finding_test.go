package preflight

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func sampleReport() *Report {
	r := &Report{
		Checks: []CheckName{CheckDNS, CheckNodes},
		Findings: []Finding{
			{Severity: Info, Code: CodeWorkloadNoPolicy, Subject: "workload a/b", Problem: "p1", Impact: "i1", Fix: "f1"},
			{Severity: Error, Code: CodeDNSIngressBlocked, Subject: "workload a/z", Problem: "p2", Impact: "i2", Fix: "f2"},
			{Severity: Warning, Code: CodeWindowsNodes, Subject: "node group w", Problem: "p3", Impact: "i3", Fix: "f3"},
			{Severity: Error, Code: CodeDNSIngressBlocked, Subject: "workload a/c", Problem: "p4", Impact: "i4", Fix: "f4"},
		},
	}
	sortFindings(r.Findings)
	return r
}

func TestReportOrderAndCounts(t *testing.T) {
	r := sampleReport()
	want := []Code{CodeDNSIngressBlocked, CodeDNSIngressBlocked, CodeWindowsNodes, CodeWorkloadNoPolicy}
	require.Empty(t, cmp.Diff(want, r.Codes()))
	require.Equal(t, "workload a/c", r.Findings[0].Subject)
	require.False(t, r.OK())
	require.Equal(t, 2, r.Count(Error))
	require.True(t, r.Has(CodeWindowsNodes))
	require.False(t, r.Has(CodeGroupNotFound))
	require.True(t, (&Report{Findings: r.Findings[2:]}).OK())
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, sampleReport().WriteText(&b))
	want := `ERROR dns-ingress-blocked: workload a/c
  problem: p4
  impact:  i4
  fix:     f4
ERROR dns-ingress-blocked: workload a/z
  problem: p2
  impact:  i2
  fix:     f2
WARNING windows-nodes: node group w
  problem: p3
  impact:  i3
  fix:     f3
INFO workload-matches-no-policy: workload a/b
  problem: p1
  impact:  i1
  fix:     f1
not ready: 2 errors, 1 warning, 1 note (2 checks)
`
	require.Empty(t, cmp.Diff(want, b.String()))

	b.Reset()
	require.NoError(t, (&Report{Checks: AllChecks()}).WriteText(&b))
	require.Equal(t, "ready: 0 errors, 0 warnings, 0 notes (9 checks)\n", b.String())
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	require.NoError(t, r.WriteJSON(&b))
	require.Contains(t, b.String(), `"severity": "error"`)
	require.Contains(t, b.String(), `"code": "dns-ingress-blocked"`)
	var back Report
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Empty(t, cmp.Diff(*r, back))
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{Info, Warning, Error} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back Severity
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, s, back)
	}
	var s Severity
	require.ErrorContains(t, s.UnmarshalText([]byte("fatal")), `"fatal"`)
	_, err := Severity(7).MarshalText()
	require.Error(t, err)
	require.Equal(t, "Severity(7)", Severity(7).String())
}

func FuzzSeverityText(f *testing.F) {
	for _, s := range []string{"info", "warning", "error", "", "ERROR"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sev Severity
		if err := sev.UnmarshalText([]byte(s)); err != nil {
			return
		}
		b, err := sev.MarshalText()
		if err != nil || string(b) != s {
			t.Fatalf("%q decoded to %d, encodes back to %q, %v", s, sev, b, err)
		}
	})
}

func FuzzCNIVersion(f *testing.F) {
	for _, s := range []string{"v1.11.0", "1.7", "v1.18.3-eksbuild.1", "", "v1..2", "v-1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := cniVersion(s)
		if err != nil {
			return
		}
		for _, n := range v {
			if n < 0 {
				t.Fatalf("%q parsed to negative %v", s, v)
			}
		}
		if versionLess(v, v) {
			t.Fatalf("%v < itself", v)
		}
	})
}

// FuzzNewGroups feeds DescribeSecurityGroups-shaped rules to the compiler
// and the evaluator: neither may panic, and a rule that compiles must
// evaluate consistently (a /0 rule for all protocols admits everything).
func FuzzNewGroups(f *testing.F) {
	f.Add("tcp", int32(53), int32(53), "10.0.0.0/8", "udp", int32(53), "10.1.2.3/32")
	f.Add("-1", int32(0), int32(0), "::/0", "icmpv6", int32(128), "2001:db8::1/128")
	f.Add("icmp", int32(-1), int32(-1), "0.0.0.0/0", "1", int32(8), "")
	f.Fuzz(func(t *testing.T, proto string, from, to int32, cidr string, flowProto string, port int32, src string) {
		sgs := []types.SecurityGroup{{
			GroupId: aws.String("sg-1"),
			IpPermissions: []types.IpPermission{{
				IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
				IpRanges: []types.IpRange{{CidrIp: aws.String(cidr)}},
			}},
		}}
		g, err := NewGroups(sgs)
		if err != nil {
			return
		}
		var ep Endpoint
		if p, err := netip.ParsePrefix(src); err == nil {
			ep.Prefix = p
		}
		v, err := g.Evaluate(Flow{From: ep, To: Endpoint{Groups: []string{"sg-1"}}, Protocol: Protocol(flowProto), Port: port})
		if err != nil {
			return
		}
		if v.Allowed && v.Ingress.Rule == nil {
			t.Fatalf("allowed without a rule: %+v", v)
		}
		if proto == "-1" && netip.MustParsePrefix(cidr).Bits() == 0 && !v.Allowed &&
			(!ep.Prefix.IsValid() || ep.Prefix.Addr().Is4() == netip.MustParsePrefix(cidr).Addr().Is4()) {
			t.Fatalf("an all-traffic /0 rule denied %+v", v)
		}
	})
}
