package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/limits/ec2limits"
	"github.com/podsg/podsg/preflight"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
)

const preflightDescription = `
Checks SecurityGroupPolicies and a description of the cluster against EC2 before
any pod is created, and says what would leave pods stuck or broken and how to
fix it: groups that do not exist (InvalidSecurityGroupID.NotFound), missing DNS
rules to CoreDNS, blocked probe or peer ports, instance types without trunking,
too little branch-ENI capacity (pods Pending), an enforcing mode that does not
suit the cluster.

--cluster is a YAML or JSON file with the fields of preflight.Cluster: name,
vpcId, clusterSecurityGroup, cni, coreDNS, nodeGroups, fargateProfiles,
workloads, nodeLocalDNSCache, calico. Workloads are also read from the -f
manifests (Deployments and other pod templates, with their probes; a Service
selecting a workload's pods makes its target ports peer ports).

EC2 is reached with the usual AWS configuration (environment, profile,
instance role); --endpoint points at another EC2 endpoint, such as cmd/fakeec2.
Only DescribeSecurityGroups is called.

Exit status 3 means the checks ran and found errors.

Examples:
  podsg preflight --cluster cluster.yaml -f policies.yaml -f app.yaml
  podsg preflight --cluster cluster.yaml -f policies.yaml --endpoint http://127.0.0.1:8080 --region us-west-2 -o json`

// ec2Client is what podsg needs from EC2: DescribeSecurityGroups for
// preflight, DescribeInstanceTypes for limits --ec2. *ec2.Client and
// *fake.EC2 satisfy it.
type ec2Client interface {
	preflight.EC2
	ec2limits.DescribeInstanceTypesAPI
}

// ec2Options say how to reach EC2.
type ec2Options struct {
	Endpoint string
	Region   string
	Profile  string
}

// sdkEC2 returns an aws-sdk-go-v2 EC2 client configured the usual way, with
// the endpoint and region of o when set.
func sdkEC2(ctx context.Context, o ec2Options) (ec2Client, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set --region or AWS_REGION (EC2 endpoints are regional, a local one too)")
	}
	return ec2.NewFromConfig(cfg, func(eo *ec2.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}

func (c *cli) preflight(ctx context.Context, args []string) error {
	fs := c.flagSet("preflight", "--cluster FILE -f FILE... [flags]", preflightDescription)
	clusterFile := fs.String("cluster", "", "the cluster description (YAML or JSON, fields of preflight.Cluster)")
	var files stringList
	fs.Var(&files, "f", "manifest file, directory, or - for standard input: policies, workloads, services (repeatable)")
	fs.Var(&files, "filename", "same as -f")
	ns := fs.String("n", "default", "namespace of objects that name none")
	fs.StringVar(ns, "namespace", "default", "same as -n")
	o := ec2Flags(fs)
	groupsPerENI := fs.Int("max-groups", v1beta1.DefaultMaxGroups, "the account's quota of security groups per network interface")
	var checks stringList
	fs.Var(&checks, "check", "run only this check (repeatable): "+checkNames())
	out := outputFlag(fs, "text", "text", "json", "yaml")
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q: give manifests with -f", rest[0])
	}
	if *clusterFile == "" {
		return usagef("give the cluster description with --cluster FILE (see 'podsg preflight -h')")
	}
	if err := checkOutput(*out, "text", "json", "yaml"); err != nil {
		return err
	}
	cluster, err := readCluster(*clusterFile)
	if err != nil {
		return err
	}
	var m *manifests
	if len(files) > 0 {
		if m, err = readManifests(files, c.stdin, *ns); err != nil {
			return err
		}
	} else {
		m = &manifests{serviceAccounts: map[string]map[string]string{}}
	}
	cluster.Workloads = append(cluster.Workloads, m.preflightWorkloads()...)
	policies := make([]v1beta1.SecurityGroupPolicy, len(m.policies))
	for i, p := range m.policies {
		policies[i] = *p
	}

	client, err := c.newEC2(ctx, *o)
	if err != nil {
		return err
	}
	opts := preflight.Options{GroupsPerENI: *groupsPerENI}
	for _, n := range checks {
		opts.Checks = append(opts.Checks, preflight.CheckName(n))
	}
	checker, err := preflight.New(client, opts)
	if err != nil {
		return usagef("%s", strings.NewReplacer("Options.Checks", "--check", "Options.GroupsPerENI", "--max-groups").Replace(err.Error()))
	}
	report, err := checker.Run(ctx, cluster, policies)
	if err != nil {
		return err
	}
	switch *out {
	case "json":
		err = report.WriteJSON(c.stdout)
	case "yaml":
		err = writeYAML(c.stdout, report)
	default:
		err = report.WriteText(c.stdout)
	}
	if err != nil {
		return err
	}
	if !report.OK() {
		n := report.Count(preflight.Error)
		return &findingsError{msg: fmt.Sprintf("%d error%s: pods would be stuck or broken; fix them before creating pods", n, plural(n))}
	}
	return nil
}

// ec2Flags registers the flags that say how to reach EC2.
func ec2Flags(fs *flag.FlagSet) *ec2Options {
	o := new(ec2Options)
	fs.StringVar(&o.Endpoint, "endpoint", "", "EC2 endpoint URL (default: the region's; AWS_ENDPOINT_URL_EC2 also works)")
	fs.StringVar(&o.Region, "region", "", "AWS region (default: from the AWS configuration)")
	fs.StringVar(&o.Profile, "profile", "", "AWS shared-config profile")
	return o
}

func checkNames() string {
	var names []string
	for _, n := range preflight.AllChecks() {
		names = append(names, string(n))
	}
	return strings.Join(names, ", ")
}

func readCluster(path string) (*preflight.Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster description: %w", err)
	}
	cl := new(preflight.Cluster)
	if err := yaml.UnmarshalStrict(data, cl); err != nil {
		return nil, fmt.Errorf("%s: %w (the fields are those of preflight.Cluster; see 'podsg preflight -h')", path, err)
	}
	return cl, nil
}

// preflightWorkloads turns the workloads of the manifests into preflight's
// description: labels, replicas, probe ports, and the target ports of the
// Services that select their pods as peer ports.
func (m *manifests) preflightWorkloads() []preflight.Workload {
	var ws []preflight.Workload
	for _, w := range m.workloads {
		saName := kube.ServiceAccountName(w.Pod)
		pw := preflight.Workload{
			Namespace:            w.Namespace,
			Name:                 w.Name,
			Labels:               w.Pod.Labels,
			ServiceAccount:       saName,
			ServiceAccountLabels: m.serviceAccounts[w.Namespace+"/"+saName],
			Replicas:             w.Replicas,
			HostNetwork:          w.Pod.Spec.HostNetwork,
		}
		pw.OS = podOS(w.Pod)
		pw.ProbePorts = probePorts(w.Pod)
		pw.PeerPorts = m.peerPorts(w)
		ws = append(ws, pw)
	}
	return ws
}

// podOS is the operating system the pod runs on, for preflight's checks of
// Windows workloads: spec.os.name when set, else the kubernetes.io/os (or
// beta.kubernetes.io/os) node selector, compared without regard to case.
// (Which pods the controller treats as Windows is narrower: see
// selector.Pod.Class.)
func podOS(pod *corev1.Pod) preflight.OS {
	var name string
	switch {
	case pod.Spec.OS != nil && pod.Spec.OS.Name != "":
		name = string(pod.Spec.OS.Name)
	case pod.Spec.NodeSelector[selector.OSLabel] != "":
		name = pod.Spec.NodeSelector[selector.OSLabel]
	default:
		name = pod.Spec.NodeSelector[selector.BetaOSLabel]
	}
	return preflight.OS(strings.ToLower(name))
}

func probePorts(pod *corev1.Pod) []preflight.Port {
	seen := map[preflight.Port]bool{}
	var ports []preflight.Port
	add := func(p preflight.Port) {
		if p.Port > 0 && !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	for _, ctr := range pod.Spec.Containers {
		for _, pr := range []*corev1.Probe{ctr.LivenessProbe, ctr.ReadinessProbe, ctr.StartupProbe} {
			if pr == nil {
				continue
			}
			switch {
			case pr.HTTPGet != nil:
				add(preflight.Port{Protocol: preflight.TCP, Port: resolvePort(ctr, pr.HTTPGet.Port.IntVal, pr.HTTPGet.Port.StrVal)})
			case pr.TCPSocket != nil:
				add(preflight.Port{Protocol: preflight.TCP, Port: resolvePort(ctr, pr.TCPSocket.Port.IntVal, pr.TCPSocket.Port.StrVal)})
			case pr.GRPC != nil:
				add(preflight.Port{Protocol: preflight.TCP, Port: pr.GRPC.Port})
			}
		}
	}
	return ports
}

// resolvePort returns a probe's port number, looking a named port up in the
// container's ports.
func resolvePort(ctr corev1.Container, num int32, name string) int32 {
	if name == "" {
		return num
	}
	for _, p := range ctr.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// peerPorts returns the target ports of the Services of w's namespace whose
// selector selects w's pods.
func (m *manifests) peerPorts(w workload) []preflight.Port {
	seen := map[preflight.Port]bool{}
	var ports []preflight.Port
	for _, svc := range m.services {
		if svc.Namespace != w.Namespace || len(svc.Spec.Selector) == 0 {
			continue
		}
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.Pod.Labels)) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			proto := preflight.Protocol(strings.ToLower(string(sp.Protocol)))
			if proto == "" {
				proto = preflight.TCP
			}
			port := sp.Port
			if sp.TargetPort.IntVal != 0 || sp.TargetPort.StrVal != "" {
				port = 0
				if sp.TargetPort.StrVal == "" {
					port = sp.TargetPort.IntVal
				} else {
					for _, ctr := range w.Pod.Spec.Containers {
						if p := resolvePort(ctr, 0, sp.TargetPort.StrVal); p != 0 {
							port = p
						}
					}
				}
			}
			p := preflight.Port{Protocol: proto, Port: port}
			if port > 0 && !seen[p] {
				seen[p] = true
				ports = append(ports, p)
			}
		}
	}
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Protocol != ports[j].Protocol {
			return ports[i].Protocol < ports[j].Protocol
		}
		return ports[i].Port < ports[j].Port
	})
	return ports
}
