package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
)

const planDescription = `
Prints what a node does to wire a pod's branch ENI, as the VPC CNI plugin does
it in the given enforcing mode: the VLAN link on the trunk, the veth pair, the
pod's address and routes, the branch's routing table and the policy rules. The
output is a shell script of ip, iptables, nft and sysctl commands (pod-namespace
commands through nsenter); podsg never runs it.

The branch ENI comes from the pod's vpc.amazonaws.com/pod-eni annotation, given
with --annotation (the JSON value, as kubectl shows it). --teardown prints the
removal instead (CNI DEL), --node the node-level plan (sysctls, SNAT chains).
--ipv6 plans an IPv6 cluster's node (ENABLE_IPv6), --nftables a node whose
iptables is the nf_tables variant (its connection marks live in nftables).

Examples:
  podsg plan --mode strict --pod my-namespace/my-app-1 \
    --annotation '[{"eniId":"eni-0a1b2c3d4e5f60718","ifAddress":"02:42:c0:a8:21:07","privateIp":"192.168.33.7","vlanId":1,"subnetCidr":"192.168.32.0/19"}]' \
    --node-ip 192.168.40.12 --vpc-cidr 192.168.0.0/16
  podsg plan --mode standard --node --node-ip 192.168.40.12 --vpc-cidr 192.168.0.0/16 --nftables
  podsg plan --ipv6 --pod my-namespace/my-app-1 \
    --annotation '[{"eniId":"eni-0a1b2c3d4e5f60718","ifAddress":"02:42:c0:a8:21:07","privateIp":"","ipv6Addr":"2600:1f14:abc:de00::7","vlanId":1,"subnetCidr":"192.168.32.0/19","subnetV6Cidr":"2600:1f14:abc:de00::/64"}]'`

func (c *cli) plan(_ context.Context, args []string) error {
	fs := c.flagSet("plan", "[flags]", planDescription)
	mode := fs.String("mode", "strict", "enforcing mode, POD_SECURITY_GROUP_ENFORCING_MODE: strict or standard")
	annotation := fs.String("annotation", "", "value of the pod's vpc.amazonaws.com/pod-eni annotation (JSON); element 0 is used")
	podName := fs.String("pod", "", "the pod, as namespace/name (it names the host veth)")
	netns := fs.String("netns", "", "path of the pod's network namespace, CNI_NETNS (default /var/run/netns/<namespace>-<name>)")
	ifName := fs.String("ifname", "eth0", "the pod's interface, CNI_IFNAME")
	trunk := fs.String("trunk-link", "eth1", "the node's link of the trunk ENI (the link whose MAC is the trunk ENI's)")
	primaryIf := fs.String("primary-interface", "eth0", "the node's link of its primary ENI")
	nodeIP := fs.String("node-ip", "", "the node's primary private IPv4 address, the SNAT source (required unless --external-snat or --ipv6)")
	var vpcCIDRs, excluded stringList
	fs.Var(&vpcCIDRs, "vpc-cidr", "an IPv4 CIDR of the VPC (repeatable; required unless --external-snat)")
	fs.Var(&excluded, "exclude-snat-cidr", "a destination never SNATed, AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (repeatable)")
	externalSNAT := fs.Bool("external-snat", false, "SNAT is done by a NAT gateway, AWS_VPC_K8S_CNI_EXTERNALSNAT=true")
	ipv6 := fs.Bool("ipv6", false, "an IPv6 cluster's node, ENABLE_IPv6=true (pods get the branch's ipv6Addr; no SNAT)")
	nft := fs.Bool("nftables", false, "the node's iptables is the nf_tables variant (iptables --version): connection marks in the nftables table aws-cni")
	noNodePort := fs.Bool("disable-node-port-support", false, "AWS_VPC_CNI_NODE_PORT_SUPPORT=false: no CONNMARK rules for NodePort replies")
	noEarlyDemux := fs.Bool("disable-tcp-early-demux", false, "DISABLE_TCP_EARLY_DEMUX=true: net.ipv4.tcp_early_demux=0 (kubelet TCP probes to strict-mode pods)")
	vethPrefix := fs.String("veth-prefix", "", "host veth prefix of standard-mode pods (default eni)")
	mtu := fs.Int("mtu", 0, "MTU of the VLAN link and veths (default 9001)")
	teardown := fs.Bool("teardown", false, "print the teardown plan (CNI DEL) instead of the setup plan")
	nodePlan := fs.Bool("node", false, "print the node-level plan, applied once per node before any pod")
	out := outputFlag(fs, "text", "text", "commands")
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if err := checkOutput(*out, "text", "commands"); err != nil {
		return err
	}
	m, err := enforce.ParseMode(*mode)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--mode: %v", err)}
	}
	opts := enforce.Options{
		Mode: m, TrunkLink: *trunk, PrimaryInterface: *primaryIf,
		ExternalSNAT: *externalSNAT, MTU: *mtu, VethPrefix: *vethPrefix,
		NFTables: *nft, DisableNodePortSupport: *noNodePort, DisableTCPEarlyDemux: *noEarlyDemux,
	}
	if *ipv6 {
		opts.Family = enforce.IPv6
	}
	if *nodeIP != "" {
		if opts.PrimaryIP, err = netip.ParseAddr(*nodeIP); err != nil {
			return usagef("--node-ip %q: %v", *nodeIP, err)
		}
	}
	for _, l := range []struct {
		flag string
		in   []string
		out  *[]netip.Prefix
	}{{"--vpc-cidr", vpcCIDRs, &opts.VPCCIDRs}, {"--exclude-snat-cidr", excluded, &opts.SNATExcludedCIDRs}} {
		for _, s := range l.in {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return usagef("%s %q: %v", l.flag, s, err)
			}
			*l.out = append(*l.out, p)
		}
	}
	b, err := enforce.NewBuilder(opts)
	if err != nil {
		return fmt.Errorf("%w\n(set --node-ip and --vpc-cidr from the node and its VPC, or --external-snat)", flagNames(err))
	}

	var plan enforce.Plan
	switch {
	case *nodePlan && (*teardown || *annotation != "" || *podName != ""):
		return usagef("--node prints the node-level plan; it takes no --pod, --annotation or --teardown")
	case *nodePlan:
		plan = b.Node()
	default:
		if *annotation == "" {
			return usagef("give the pod's branch ENI with --annotation '<value of vpc.amazonaws.com/pod-eni>' (kubectl get pod NAME -o jsonpath='{.metadata.annotations.vpc\\.amazonaws\\.com/pod-eni}')")
		}
		namespace, name, ok := strings.Cut(*podName, "/")
		if !ok || namespace == "" || name == "" {
			return usagef("--pod %q: give the pod as namespace/name", *podName)
		}
		enis, err := podeni.Parse(*annotation)
		if err != nil {
			return fmt.Errorf("--annotation: %w", err)
		}
		p := enforce.Pod{Namespace: namespace, Name: name, NetNS: *netns, IfName: *ifName, Branch: enis[0]}
		if p.NetNS == "" {
			p.NetNS = "/var/run/netns/" + namespace + "-" + name
		}
		if *teardown {
			plan, err = b.Teardown(p)
		} else {
			plan, err = b.Setup(p)
		}
		if err != nil {
			return flagNames(err)
		}
	}
	if *out == "commands" {
		for _, cmd := range plan.Commands() {
			fmt.Fprintln(c.stdout, cmd.String())
		}
		return nil
	}
	_, err = fmt.Fprint(c.stdout, plan.Script())
	return err
}

// flagNames rewrites enforce's field names into the flags that set them, so
// that the message says what to change on the command line.
func flagNames(err error) error {
	r := strings.NewReplacer(
		"Options.TrunkLink", "--trunk-link",
		"Options.PrimaryInterface", "--primary-interface",
		"Options.PrimaryIP", "--node-ip",
		"Options.VPCCIDRs", "--vpc-cidr",
		"Options.SNATExcludedCIDRs", "--exclude-snat-cidr",
		"Options.MTU", "--mtu",
		"Options.VethPrefix", "--veth-prefix",
		"Pod.Namespace", "--pod (namespace)",
		"Pod.Name", "--pod (name)",
		"Pod.NetNS", "--netns",
		"Pod.IfName", "--ifname",
		"Pod.Branch.", "--annotation ",
		"(Options.Family)", "(--ipv6)",
	)
	return fmt.Errorf("%s", r.Replace(err.Error()))
}
