package preflight

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Severity ranks a finding. The zero value is Info.
type Severity int

const (
	// Info is worth knowing but needs no change.
	Info Severity = iota
	// Warning is likely to hurt some pods or some traffic.
	Warning
	// Error leaves pods stuck or broken: fix it before creating them.
	Error
)

var severityNames = [...]string{Info: "info", Warning: "warning", Error: "error"}

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("preflight: invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes "info", "warning" or "error".
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if string(b) == n {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("preflight: severity %q is not info, warning or error", string(b))
}

// Code identifies the check and the condition a finding reports. Codes are
// stable: tools may branch on them.
type Code string

// The codes preflight reports, grouped by check.
const (
	// Security groups (CheckGroups).
	CodeGroupNotFound Code = "security-group-not-found"
	CodeGroupOtherVPC Code = "security-group-other-vpc"
	CodeTooManyGroups Code = "too-many-security-groups"

	// Kubelet probes (CheckProbes).
	CodeProbeBlocked     Code = "probe-port-blocked"
	CodeTCPEarlyDemuxOn  Code = "tcp-early-demux-enabled"
	CodeProbeNodeUnknown Code = "probe-node-groups-unknown"

	// DNS (CheckDNS).
	CodeDNSEgressBlocked  Code = "dns-egress-blocked"
	CodeDNSIngressBlocked Code = "dns-ingress-blocked"
	CodeDNSGroupsUnknown  Code = "dns-groups-unknown"

	// Traffic between pods of one workload (CheckPeers).
	CodePeerBlocked Code = "peer-traffic-blocked"

	// Fargate (CheckFargate).
	CodeFargateClusterGroupMissing Code = "fargate-cluster-security-group-missing"

	// Nodes and capacity (CheckNodes).
	CodeInstanceTypeNotTrunk   Code = "instance-type-not-trunk-compatible"
	CodeInstanceTypeUnknown    Code = "instance-type-unknown"
	CodeBranchCapacityExceeded Code = "branch-capacity-exceeded"
	CodeNoTrunkNodes           Code = "no-trunk-capable-nodes"

	// Unsupported setups (CheckSupport).
	CodeWindowsNodes     Code = "windows-nodes"
	CodeWindowsWorkload  Code = "windows-workload"
	CodeIPv6WithEC2Nodes Code = "ipv6-with-ec2-nodes"
	CodePodENIDisabled   Code = "pod-eni-disabled"
	CodeCNITooOld        Code = "cni-too-old"

	// Enforcing mode (CheckMode).
	CodeStrictNodeLocalDNS  Code = "strict-mode-nodelocal-dnscache"
	CodeStrictCalico        Code = "strict-mode-calico"
	CodeStrictExternalLocal Code = "strict-mode-external-traffic-policy-local"
	CodeStrictPublicSubnet  Code = "strict-mode-public-subnet"
	CodeStandardNeedsCNI111 Code = "standard-mode-needs-cni-1.11"
	CodeStandardNodeLocal   Code = "standard-mode-node-local-traffic"

	// Policies (CheckPolicies). The API server stores every policy the
	// VPC resource controller's CRD accepts, so these are podsg's own
	// checks (v1beta1.Validate), each with its own code.
	CodePolicyInvalid          Code = "policy-invalid"
	CodePolicyNoSelector       Code = "policy-without-selector"
	CodePolicyGroupIDMalformed Code = "policy-group-id-malformed"
	CodePolicyTooManyGroups    Code = "policy-too-many-security-groups"
	CodePolicyDuplicateGroup   Code = "policy-duplicate-security-group"
	CodePolicyMatchesNone      Code = "policy-matches-no-workload"
	CodeWorkloadNoPolicy       Code = "workload-matches-no-policy"
	CodeHostNetworkIgnored     Code = "host-network-workload-ignored"
)

// Finding is one problem preflight found, phrased for a person and coded
// for a program. A Finding is a plain value.
type Finding struct {
	// Severity ranks the finding.
	Severity Severity `json:"severity"`
	// Code is the stable identifier of the condition.
	Code Code `json:"code"`
	// Subject names what the finding is about, for example
	// "workload my-namespace/my-deployment" or "security group sg-0123".
	Subject string `json:"subject"`
	// Problem says what is wrong.
	Problem string `json:"problem"`
	// Impact says why it matters: what pods or traffic it breaks.
	Impact string `json:"impact"`
	// Fix says what to do.
	Fix string `json:"fix"`
}

// String renders f on one line: "error security-group-not-found
// (security group sg-1): problem".
func (f Finding) String() string {
	return fmt.Sprintf("%s %s (%s): %s", f.Severity, f.Code, f.Subject, f.Problem)
}

// Report is the outcome of a preflight run: every finding, most severe
// first. A Report is a plain value, not safe for concurrent mutation.
type Report struct {
	// Findings are sorted by severity (errors first), then code, then
	// subject.
	Findings []Finding `json:"findings"`
	// Checks lists the checks that ran, in order.
	Checks []CheckName `json:"checks"`
}

// sortFindings puts findings in report order.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			strings.Compare(string(a.Code), string(b.Code)),
			strings.Compare(a.Subject, b.Subject),
		)
	})
}

// OK reports whether the report has no Error finding: pods should start.
func (r *Report) OK() bool { return r.Count(Error) == 0 }

// Count returns the number of findings of severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Codes returns the code of each finding, in report order.
func (r *Report) Codes() []Code {
	out := make([]Code, len(r.Findings))
	for i, f := range r.Findings {
		out[i] = f.Code
	}
	return out
}

// Has reports whether some finding has code c.
func (r *Report) Has(c Code) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Code == c })
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for a terminal: one block per finding, then a summary
// line.
//
//	ERROR dns-ingress-blocked: workload my-namespace/my-deployment
//	  problem: ...
//	  impact:  ...
//	  fix:     ...
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%s %s: %s\n", strings.ToUpper(f.Severity.String()), f.Code, f.Subject)
		fmt.Fprintf(&b, "  problem: %s\n", f.Problem)
		if f.Impact != "" {
			fmt.Fprintf(&b, "  impact:  %s\n", f.Impact)
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix:     %s\n", f.Fix)
		}
	}
	fmt.Fprintf(&b, "%s: %s, %s, %s (%s)\n", r.verdict(),
		plural(r.Count(Error), "error"), plural(r.Count(Warning), "warning"), plural(r.Count(Info), "note"), plural(len(r.Checks), "check"))
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) verdict() string {
	if r.OK() {
		return "ready"
	}
	return "not ready"
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
