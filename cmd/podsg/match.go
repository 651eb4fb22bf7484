package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
)

const matchDescription = `
Reads SecurityGroupPolicies and pods from manifests and says which security
groups each pod gets, and why: for every policy of the pod's namespace, whether
it selects the pod and, if not, which requirement failed on which label.

Pods are bare Pod objects and the pod templates of Deployments, StatefulSets,
ReplicaSets, DaemonSets, Jobs and CronJobs. ServiceAccount objects supply the
labels that serviceAccountSelector tests. Lists (kubectl get -o yaml) are read
item by item; other kinds are skipped. Invalid policies are reported on standard
error and still matched, as the VPC resource controller would.

-o wide prints one line per pod instead of the explanation.

Examples:
  podsg match -f my-security-group-policy.yaml -f sample-application.yaml
  kubectl get sgp,pods,sa -A -o yaml | podsg match -f -`

// matchJSON is one pod's decision in JSON and YAML output.
type matchJSON struct {
	Kind              string            `json:"kind"`
	Namespace         string            `json:"namespace"`
	Name              string            `json:"name"`
	Treatment         string            `json:"treatment"`
	Reason            string            `json:"reason,omitempty"`
	Groups            []string          `json:"groups"`
	Policies          []string          `json:"policies"`
	FargateAnnotation string            `json:"fargateAnnotation,omitempty"`
	Explanation       []policyJSON      `json:"explanation"`
	Labels            map[string]string `json:"labels,omitempty"`
}

type policyJSON struct {
	Name                   string       `json:"name"`
	Groups                 []string     `json:"groups"`
	Matched                bool         `json:"matched"`
	Ignored                string       `json:"ignored,omitempty"`
	Invalid                string       `json:"invalid,omitempty"`
	PodSelector            selectorJSON `json:"podSelector"`
	ServiceAccountSelector selectorJSON `json:"serviceAccountSelector"`
}

type selectorJSON struct {
	Set      bool     `json:"set"`
	Selector string   `json:"selector,omitempty"`
	Error    string   `json:"error,omitempty"`
	Matched  bool     `json:"matched"`
	Failed   []string `json:"failed,omitempty"`
}

func (c *cli) match(_ context.Context, args []string) error {
	fs := c.flagSet("match", "-f FILE [-f FILE]... [flags]", matchDescription)
	var files stringList
	fs.Var(&files, "f", "manifest file, directory, or - for standard input (repeatable)")
	fs.Var(&files, "filename", "same as -f")
	ns := fs.String("n", "default", "namespace of objects that name none")
	fs.StringVar(ns, "namespace", "default", "same as -n")
	maxGroups := fs.Int("max-groups", v1beta1.DefaultMaxGroups, "the account's quota of security groups per network interface (5 by default, at most 16)")
	out := outputFlag(fs, "text", "text", "wide", "json", "yaml")
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q: give manifests with -f", rest[0])
	}
	if len(files) == 0 {
		return usagef("give the policies and pods with -f, for example: podsg match -f policies.yaml -f pods.yaml")
	}
	if err := checkOutput(*out, "text", "wide", "json", "yaml"); err != nil {
		return err
	}
	if *maxGroups < 1 || *maxGroups > v1beta1.MaxGroupsCeiling {
		return usagef("--max-groups %d: the quota is between 1 and %d", *maxGroups, v1beta1.MaxGroupsCeiling)
	}
	m, err := readManifests(files, c.stdin, *ns)
	if err != nil {
		return err
	}
	idx := selector.NewIndex(selector.Options{Validate: v1beta1.ValidateOptions{MaxGroups: *maxGroups}})
	for _, p := range m.policies {
		var pe *selector.PolicyError
		if err := idx.Upsert(p); errors.As(err, &pe) {
			fmt.Fprintf(c.stderr, "warning: %v\n", pe)
		} else if err != nil {
			return err
		}
	}
	if len(m.workloads) == 0 {
		return errors.New("the manifests hold no pods: add Pod objects or workloads (Deployment, StatefulSet, ...) with -f")
	}
	exps := make([]selector.Explanation, len(m.workloads))
	for i, w := range m.workloads {
		sa := m.serviceAccounts[w.Namespace+"/"+kube.ServiceAccountName(w.Pod)]
		pod := kube.Pod(w.Pod, nil)
		pod.ServiceAccountLabels = sa
		pod.Name = w.Name
		exps[i] = idx.Explain(pod)
	}
	switch *out {
	case "json", "yaml":
		res := make([]matchJSON, len(exps))
		for i, e := range exps {
			res[i] = toMatchJSON(m.workloads[i], e)
		}
		if *out == "json" {
			return writeJSON(c.stdout, res)
		}
		return writeYAML(c.stdout, res)
	case "wide":
		return writeMatchTable(c.stdout, m.workloads, exps)
	}
	for i, e := range exps {
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		writeExplanation(c.stdout, m.workloads[i], e)
	}
	return nil
}

// writeExplanation prints e under a header naming the workload.
func writeExplanation(w io.Writer, wl workload, e selector.Explanation) {
	text := e.String()
	_, body, _ := strings.Cut(text, "\n")
	header := wl.describe()
	if wl.Kind != "Pod" {
		header += fmt.Sprintf(", %d replica%s", wl.Replicas, plural(wl.Replicas))
	}
	fmt.Fprintf(w, "%s: %s\n%s", header, e.Result, body)
	switch e.Result.Treatment {
	case selector.TreatBranchENI:
		fmt.Fprintf(w, "  => requests %s: 1 and gets a branch ENI with these groups\n", "vpc.amazonaws.com/pod-eni")
	case selector.TreatFargate:
		fmt.Fprintf(w, "  => annotation %s: %q\n", podeni.FargateAnnotationKey, e.Result.FargateAnnotation())
	}
}

func writeMatchTable(w io.Writer, wls []workload, exps []selector.Explanation) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tKIND\tNAME\tREPLICAS\tTREATMENT\tGROUPS\tPOLICIES")
	for i, e := range exps {
		wl := wls[i]
		treatment := e.Result.Treatment.String()
		if e.Result.Treatment == selector.TreatNotEligible {
			treatment += " (" + e.Result.Reason.String() + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", wl.Namespace, wl.Kind, wl.Name, wl.Replicas, treatment,
			orNone(strings.Join(e.Result.Groups, ",")), orNone(strings.Join(e.Result.Policies, ",")))
	}
	return tw.Flush()
}

func toMatchJSON(wl workload, e selector.Explanation) matchJSON {
	r := matchJSON{
		Kind:              wl.Kind,
		Namespace:         wl.Namespace,
		Name:              wl.Name,
		Treatment:         e.Result.Treatment.String(),
		Groups:            append([]string{}, e.Result.Groups...),
		Policies:          append([]string{}, e.Result.Policies...),
		FargateAnnotation: e.Result.FargateAnnotation(),
		Explanation:       []policyJSON{},
		Labels:            wl.Pod.Labels,
	}
	if e.Result.Treatment == selector.TreatNotEligible {
		r.Reason = e.Result.Reason.String()
	}
	for _, p := range e.Policies {
		r.Explanation = append(r.Explanation, policyJSON{
			Name: p.Name, Groups: p.Groups, Matched: p.Matched, Ignored: p.Ignored, Invalid: p.Invalid,
			PodSelector:            toSelectorJSON(p.PodSelector),
			ServiceAccountSelector: toSelectorJSON(p.ServiceAccountSelector),
		})
	}
	return r
}

func toSelectorJSON(s selector.LabelMatch) selectorJSON {
	r := selectorJSON{Set: s.Set, Selector: s.Selector, Error: s.Error, Matched: s.Matched}
	for _, f := range s.Failed {
		r.Failed = append(r.Failed, f.Requirement)
	}
	return r
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
