package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/limits"
	"github.com/podsg/podsg/limits/ec2limits"
)

const limitsDescription = `
Prints the networking limits of EC2 instance types from podsg's built-in table:
whether the type can host a trunk ENI, how many branch ENIs (pods with their own
security groups) a node can carry, its ENIs, IPv4 addresses per ENI and the
ENI-based max-pods figure. -o wide adds network cards, hypervisor and bare metal.

Types newer than the table can be supplied with --overrides FILE (JSON or YAML,
the format of package limits: a list "instanceTypes" of full rows), or read
from EC2's DescribeInstanceTypes with --ec2. EC2 does not report branch-ENI
counts: a type known only from EC2 is shown as not trunking-compatible unless
--branch-enis TYPE=N gives its count.

Examples:
  podsg limits m5.large c6g.xlarge
  podsg limits m5.large -o json
  podsg limits --overrides overrides.yaml m9.large
  podsg limits --ec2 --region us-west-2 --branch-enis m9.large=9 m9.large`

// limitsRow is one instance type in JSON and YAML output.
type limitsRow struct {
	limits.Limits
	MaxPods int `json:"maxPods"`
}

func (c *cli) limits(ctx context.Context, args []string) error {
	fs := c.flagSet("limits", "[flags] INSTANCE-TYPE...", limitsDescription)
	out := outputFlag(fs, "text", "text", "wide", "json", "yaml")
	overrides := fs.String("overrides", "", "file of extra instance-type rows (JSON or YAML) to use on top of the built-in table")
	all := fs.Bool("all", false, "list every instance type of the table")
	fromEC2 := fs.Bool("ec2", false, "describe the types the table lacks with EC2's DescribeInstanceTypes")
	var branches stringList
	fs.Var(&branches, "branch-enis", "TYPE=N: the branch-ENI count of a type known only from EC2 (repeatable; needs --ec2)")
	o := ec2Flags(fs)
	types, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkOutput(*out, "text", "wide", "json", "yaml"); err != nil {
		return err
	}
	table := limits.Default()
	if *overrides != "" {
		rows, err := limits.LoadOverrides(*overrides)
		if err != nil {
			return err
		}
		if table, err = table.WithOverrides(rows...); err != nil {
			return fmt.Errorf("%s: %w", *overrides, err)
		}
	}
	if len(branches) > 0 && !*fromEC2 {
		return usagef("--branch-enis needs --ec2 (for types of the built-in table or an overrides file, write the count there)")
	}
	if *fromEC2 {
		var err error
		if table, err = c.refreshFromEC2(ctx, *o, table, types, branches); err != nil {
			return err
		}
	}
	var rows []limitsRow
	var missing []error
	switch {
	case *all && len(types) > 0:
		return usagef("give instance types or --all, not both")
	case *all:
		for _, l := range table.All() {
			rows = append(rows, limitsRow{Limits: l, MaxPods: limits.MaxPods(l)})
		}
	case len(types) == 0:
		return usagef("name at least one instance type, for example: podsg limits m5.large")
	default:
		for _, t := range types {
			l, err := table.Lookup(strings.ToLower(strings.TrimSpace(t)))
			if err != nil {
				missing = append(missing, err)
				continue
			}
			rows = append(rows, limitsRow{Limits: l, MaxPods: limits.MaxPods(l)})
		}
	}
	if len(rows) > 0 {
		if err := writeLimits(c.stdout, *out, rows); err != nil {
			return err
		}
	}
	return errors.Join(missing...)
}

// refreshFromEC2 adds the requested types the table lacks (or every type of
// the region, for --all without types) from DescribeInstanceTypes.
func (c *cli) refreshFromEC2(ctx context.Context, o ec2Options, table *limits.Table, types, branches []string) (*limits.Table, error) {
	counts := map[string]int{}
	for _, b := range branches {
		name, n, ok := strings.Cut(b, "=")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || name == "" {
			return nil, usagef("--branch-enis %q: want TYPE=N, for example m9.large=9", b)
		}
		counts[strings.ToLower(name)] = v
	}
	var want []string
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		if _, err := table.Lookup(t); err != nil || counts[t] != 0 {
			want = append(want, t)
		}
	}
	if len(types) > 0 && len(want) == 0 {
		return table, nil
	}
	client, err := c.newEC2(ctx, o)
	if err != nil {
		return nil, err
	}
	t, err := ec2limits.Refresh(ctx, client, ec2limits.Options{
		Base:          table,
		InstanceTypes: want,
		BranchENIs:    counts,
	})
	if err != nil {
		return nil, fmt.Errorf("describing instance types with EC2: %w", err)
	}
	return t, nil
}

func writeLimits(w io.Writer, format string, rows []limitsRow) error {
	switch format {
	case "json":
		return writeJSON(w, rows)
	case "yaml":
		return writeYAML(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header := "INSTANCE TYPE\tTRUNKING\tBRANCH ENIS\tENIS\tIPV4/ENI\tMAX PODS"
	if format == "wide" {
		header += "\tNETWORK CARDS\tDEFAULT CARD\tHYPERVISOR\tBARE METAL"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d", r.InstanceType, yesNo(r.TrunkingCompatible), r.MaxBranchENIs, r.MaxENIs, r.IPv4PerENI, r.MaxPods)
		if format == "wide" {
			cards := make([]string, len(r.NetworkCards))
			for i, nc := range r.NetworkCards {
				cards[i] = strconv.Itoa(nc.Index) + ":" + strconv.Itoa(nc.MaxENIs)
			}
			hv := r.Hypervisor
			if hv == "" {
				hv = "-"
			}
			fmt.Fprintf(tw, "\t%s\t%d\t%s\t%s", strings.Join(cards, ","), r.DefaultNetworkCard, hv, yesNo(r.BareMetal))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
