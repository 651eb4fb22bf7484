//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/kernel"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// plugin runs one CNI command.
type plugin struct {
	ctx context.Context
}

// start is how every command begins: the validated configuration and the
// logger (and a function that closes its file).
func (p *plugin) start(args *skel.CmdArgs, cmd string) (*config, *slog.Logger, func(), error) {
	c, err := parseConfig(args.StdinData)
	if err != nil {
		return nil, nil, nil, err
	}
	log, done, err := c.logger()
	if err != nil {
		return nil, nil, nil, err
	}
	log = log.With("cmd", cmd, "network", c.raw.Name)
	if args.ContainerID != "" {
		log = log.With("container", args.ContainerID, "ifname", args.IfName)
	}
	return c, log, done, nil
}

// finish logs the outcome of a command and returns err.
func finish(log *slog.Logger, start time.Time, err error, attrs ...any) error {
	attrs = append(attrs, "ms", float64(time.Since(start).Microseconds())/1000)
	if err != nil {
		log.Error("failed", append(attrs, "err", err)...)
		return err
	}
	log.Info("done", attrs...)
	return nil
}

// podArgs are the Kubernetes keys of CNI_ARGS.
type podArgs struct {
	Namespace, Name, UID string
}

// parsePodArgs reads K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID from
// CNI_ARGS ("K=V;K=V"); other keys are ignored, as runtimes pass more
// (K8S_POD_INFRA_CONTAINER_ID, IgnoreUnknown).
func parsePodArgs(s string) (podArgs, bool) {
	var a podArgs
	for kv := range strings.SplitSeq(s, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "K8S_POD_NAMESPACE":
			a.Namespace = v
		case "K8S_POD_NAME":
			a.Name = v
		case "K8S_POD_UID":
			a.UID = v
		}
	}
	return a, a.Namespace != "" && a.Name != ""
}

func (p *plugin) add(args *skel.CmdArgs) error {
	c, log, done, err := p.start(args, "ADD")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	res, err := p.doAdd(c, args, log)
	if err != nil {
		return finish(log, start, err)
	}
	if err := finish(log, start, nil, "ip", res.IPs[0].Address.String()); err != nil {
		return err
	}
	return types.PrintResult(res, c.raw.CNIVersion)
}

func (p *plugin) doAdd(c *config, args *skel.CmdArgs, log *slog.Logger) (*types100.Result, error) {
	if len(c.raw.RawPrevResult) > 0 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig,
			"podsg-cni creates the pod's interface and must be the first plugin of the list, but it was given a prevResult", "")
	}
	pa, ok := parsePodArgs(args.Args)
	if !ok {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables,
			"CNI_ARGS must name the pod with K8S_POD_NAMESPACE and K8S_POD_NAME (Kubernetes runtimes set them)", args.Args)
	}
	log = log.With("pod", pa.Namespace+"/"+pa.Name)
	branch, err := p.waitForBranch(c, pa, log)
	if err != nil {
		return nil, err
	}
	switch {
	case c.opts.Family == enforce.IPv6 && !branch.IPv6.IsValid():
		return nil, types.NewError(codeInvalidAnnotation,
			fmt.Sprintf("pod %s/%s: branch ENI %s has no IPv6 address (privateIp %s), and this node's pods are IPv6 (\"ipv6\": true)", pa.Namespace, pa.Name, branch.ID, branch.PrivateIP),
			"an IPv6 cluster's controller gives every branch ENI an IPv6 address (podsg's with trunk.Options.IPv6, the example controller with -ipv6)")
	case c.opts.Family == enforce.IPv4 && !branch.PrivateIP.Is4():
		return nil, types.NewError(codeInvalidAnnotation,
			fmt.Sprintf("pod %s/%s: branch ENI %s has no IPv4 address (ipv6Addr %s), and this node's pods are IPv4", pa.Namespace, pa.Name, branch.ID, branch.IPv6),
			"for an IPv6 cluster, set \"ipv6\": true in the network configuration (the VPC CNI plugin's ENABLE_IPv6)")
	}
	b, err := c.builder(firstIPv4, false)
	if err != nil {
		return nil, err
	}
	pod := enforce.Pod{Namespace: pa.Namespace, Name: pa.Name, NetNS: args.Netns, IfName: args.IfName, Branch: branch}
	setup, err := b.Setup(pod)
	if err != nil {
		return nil, types.NewError(codeInvalidAnnotation, fmt.Sprintf("pod %s/%s: %v", pa.Namespace, pa.Name, err), "")
	}
	nl, err := kernel.NewNetlink(p.netlinkOptions(c, branch, log))
	if err != nil {
		return nil, err
	}

	s, err := openStore(c.stateDir)
	if err != nil {
		return nil, err
	}
	if err := s.Lock(); err != nil {
		return nil, err
	}
	defer s.Unlock()
	if err := p.ensureNode(c, s, nl, log); err != nil {
		return nil, err
	}
	a := &attachment{
		Version: stateVersion, Network: c.raw.Name, ContainerID: args.ContainerID, IfName: args.IfName, NetNS: args.Netns,
		Namespace: pa.Namespace, Name: pa.Name, UID: pa.UID,
		Mode: b.Mode().String(), HostVeth: setup.Want.Veths[0].HostName, Branch: branch, Created: time.Now().UTC(),
	}
	if old, err := s.Get(a.Network, a.ContainerID, a.IfName); err != nil {
		return nil, err
	} else if old != nil && (old.Branch != a.Branch || old.NetNS != a.NetNS || old.HostVeth != a.HostVeth) {
		// ADD again for the same attachment, with another branch: the
		// old one goes first.
		if err := p.teardown(c, s, nl, old, log); err != nil {
			return nil, err
		}
	}
	if err := s.Put(a); err != nil {
		return nil, err
	}
	if err := nl.Apply(p.ctx, &setup); err != nil {
		if derr := s.Delete(a.Network, a.ContainerID, a.IfName); derr != nil {
			log.Warn("could not remove the record of a failed setup", "err", derr)
		}
		return nil, types.NewError(codeSetup, fmt.Sprintf("pod %s/%s: %v", pa.Namespace, pa.Name, err), setupHint(err))
	}
	return p.result(c, a, &setup)
}

func setupHint(err error) string {
	var se *enforce.StepError
	hint := "what this call added was removed again"
	if errors.As(err, &se) && se.RollbackErr != nil {
		hint = "rolling back also failed; DEL of this container removes what is left"
	}
	if strings.Contains(err.Error(), "8021q") {
		hint += "; load the kernel's 802.1Q module on the node (modprobe 8021q)"
	}
	return hint
}

func (p *plugin) netlinkOptions(c *config, branch podeni.BranchENI, log *slog.Logger) kernel.NetlinkOptions {
	o := kernel.NetlinkOptions{Logger: log}
	if c.standIn != nil {
		o.VLANStandIn = standIn(c.standIn, branch, c.opts.Family)
	}
	return o
}

// ensureNode applies the node plan unless the node mark says this very
// plan was applied in this boot and network namespace. The plan depends on
// the variant of the node's iptables (nf_tables or legacy); the mark
// records it, so that an ADD that finds the plan applied runs no iptables.
// The caller holds the node lock.
func (p *plugin) ensureNode(c *config, s *store, nl *kernel.Netlink, log *slog.Logger) error {
	old := s.NodeMark()
	if old.Plan != "" {
		if b, err := c.builder(firstIPv4, old.NFTables); err == nil {
			node := b.Node()
			if m, err := currentNodeMark(&node, old.NFTables); err == nil && m == old {
				return nil
			}
		}
	}
	ipt, err := kernel.NewIPTables(kernel.IPTablesOptions{Logger: log})
	if err != nil {
		return types.NewError(codeSetup, "node plan: "+err.Error(), "podsg-cni runs iptables for SNAT and NodePort rules; install it on the node")
	}
	b, err := c.builder(firstIPv4, ipt.NFTables())
	if err != nil {
		return err
	}
	node := b.Node()
	mark, err := currentNodeMark(&node, ipt.NFTables())
	if err != nil {
		return types.NewError(types.ErrIOFailure, "node plan: "+err.Error(), "")
	}
	if err := enforce.Join(nl, ipt).Apply(p.ctx, &node); err != nil {
		return types.NewError(codeSetup, "node plan: "+err.Error(), "")
	}
	log.Info("node plan applied", "mode", b.Mode().String(), "nftables", ipt.NFTables())
	if err := s.SetNodeMark(mark); err != nil {
		log.Warn("could not record the node plan; the next ADD applies it again", "err", err)
	}
	return nil
}

// result describes the attachment: the host veth, the pod's interface
// (in its sandbox) and the VLAN link, the pod's address (IPv4, or IPv6 on
// an IPv6 node) with the link-local gateway, and the pod's routes.
func (p *plugin) result(c *config, a *attachment, setup *enforce.Plan) (*types100.Result, error) {
	podMAC, err := linkMAC(a.NetNS, a.IfName)
	if err != nil {
		return nil, types.NewError(codeSetup, fmt.Sprintf("pod %s/%s: read %s in %s: %v", a.Namespace, a.Name, a.IfName, a.NetNS, err), "")
	}
	v := setup.Want.Veths[0]
	vl := setup.Want.VLANs[0]
	scopeLink := 253 // RT_SCOPE_LINK
	podGW, anyDst, gwScope := enforce.PodGateway, net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, &scopeLink
	if c.opts.Family == enforce.IPv6 {
		// The pod's route to fe80::1 is a plain (universe) one on its
		// interface, as the plan makes it: IPv6 routes to a link-local
		// gateway need no link scope.
		podGW, anyDst, gwScope = enforce.PodGatewayV6, net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, nil
	}
	gw := net.IP(podGW.AsSlice())
	res := &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		Interfaces: []*types100.Interface{
			{Name: v.HostName, Mac: v.HostMAC.String(), Mtu: v.MTU},
			{Name: a.IfName, Mac: podMAC, Mtu: v.MTU, Sandbox: a.NetNS},
			{Name: vl.Name, Mac: vl.MAC.String(), Mtu: vl.MTU},
		},
		IPs: []*types100.IPConfig{{
			Interface: types100.Int(1),
			Address:   *hostPrefix(c.podAddr(a.Branch)),
			Gateway:   gw,
		}},
		Routes: []*types.Route{
			{Dst: *hostPrefix(podGW), Scope: gwScope},
			{Dst: anyDst, GW: gw},
		},
		DNS: c.raw.DNS,
	}
	return res, nil
}

func linkMAC(nsPath, ifName string) (string, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return "", err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	l, err := h.LinkByName(ifName)
	if err != nil {
		return "", err
	}
	return l.Attrs().HardwareAddr.String(), nil
}

// waitForBranch reads the pod until its pod-eni annotation is there, and
// parses element 0. It waits with exponential back-off (25 ms doubling to
// 1 s, with jitter) up to annotationTimeout while the pod requests
// vpc.amazonaws.com/pod-eni but is not annotated yet, or the API server
// cannot be reached; it gives up at once on a UID mismatch, an answer that
// will not change (401, 403, 404) or a pod that will never be annotated.
//
// This follows the VPC CNI's ipamd, which treats a pod as a branch-ENI pod
// when its first container's limits name vpc.amazonaws.com/pod-eni and
// fails the ADD (for the kubelet to retry) while the annotation is missing
// (aws/amazon-vpc-cni-k8s, pkg/ipamd/rpc_handler.go, AddNetwork); waiting a
// little inside one ADD spares most of those retries.
func (p *plugin) waitForBranch(c *config, pa podArgs, log *slog.Logger) (podeni.BranchENI, error) {
	who := pa.Namespace + "/" + pa.Name
	kc, err := loadKubeconfig(c.kubeconfig)
	if err != nil {
		return podeni.BranchENI{}, types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	deadline := time.Now().Add(c.annotationTimeout)
	backoff := 25 * time.Millisecond
	tries := 0
	start := time.Now()
	var last error
	for {
		tries++
		// A request gets at most 5 s, so that one lost connection leaves
		// time to try again; the last try starts at the deadline at the
		// latest, and gets a little time of its own.
		reqCtx, cancel := context.WithTimeout(p.ctx, min(max(time.Until(deadline), 250*time.Millisecond), 5*time.Second))
		info, err := kc.getPod(reqCtx, pa.Namespace, pa.Name, podeni.AnnotationKey, podeni.ResourceName)
		cancel()
		switch {
		case p.ctx.Err() != nil:
			return podeni.BranchENI{}, types.NewError(types.ErrTryAgainLater, fmt.Sprintf("interrupted while reading pod %s: %v", who, p.ctx.Err()), "")
		case err != nil && !transient(err):
			hint := ""
			var cve *tls.CertificateVerificationError
			if errors.As(err, &cve) {
				hint = "check certificate-authority and tls-server-name of the cluster in the kubeconfig"
			}
			return podeni.BranchENI{}, types.NewError(codeKubeAPI, fmt.Sprintf("get pod %s from the API server %s: %v", who, kc.server.Redacted(), err), hint)
		case err != nil:
			last = fmt.Errorf("cannot get pod %s from the API server %s: %w", who, kc.server.Redacted(), err)
		case pa.UID != "" && info.UID != pa.UID:
			return podeni.BranchENI{}, types.NewError(codeUIDMismatch,
				fmt.Sprintf("pod %s in the API server has UID %s, but the runtime wires UID %s: the pod was deleted and created again", who, info.UID, pa.UID),
				"nothing to do: the runtime drops this sandbox")
		case info.HasAnnotation:
			enis, err := podeni.Parse(info.Annotation)
			if err != nil {
				return podeni.BranchENI{}, types.NewError(codeInvalidAnnotation,
					fmt.Sprintf("pod %s: annotation %s: %v", who, podeni.AnnotationKey, err), info.Annotation)
			}
			log.Debug("annotation read", "tries", tries, "waited_ms", time.Since(start).Milliseconds())
			return enis[0], nil
		case !info.RequestsPodENI:
			return podeni.BranchENI{}, types.NewError(codeNotBranchPod,
				fmt.Sprintf("pod %s neither requests %s nor has the %s annotation: podsg-cni wires only pods with a branch ENI", who, podeni.ResourceName, podeni.AnnotationKey),
				"give the pod a SecurityGroupPolicy (the webhook then adds the resource request), or run it on another network")
		default:
			last = fmt.Errorf("the controller has not written the %s annotation on pod %s yet", podeni.AnnotationKey, who)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return podeni.BranchENI{}, types.NewError(types.ErrTryAgainLater,
				fmt.Sprintf("timed out after %s (annotationTimeout %s) and %d tries: %v", time.Since(start).Round(time.Millisecond), c.annotationTimeout, tries, last),
				"the kubelet retries the sandbox")
		}
		select {
		case <-time.After(min(backoff/2+rand.N(backoff/2+1), remaining)):
		case <-p.ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (p *plugin) del(args *skel.CmdArgs) error {
	c, log, done, err := p.start(args, "DEL")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	s, err := openStore(c.stateDir)
	if err != nil {
		return finish(log, start, err)
	}
	if err := s.Lock(); err != nil {
		return finish(log, start, err)
	}
	defer s.Unlock()
	a, err := s.Get(c.raw.Name, args.ContainerID, args.IfName)
	if err != nil {
		return finish(log, start, err)
	}
	if a == nil {
		a = fromPrevResult(c, args)
		if a == nil {
			return finish(log, start, nil, "found", "nothing")
		}
		log.Info("no record; tearing down from prevResult", "pod", a.Namespace+"/"+a.Name, "vlan", a.Branch.VLANID)
	}
	nl, err := kernel.NewNetlink(kernel.NetlinkOptions{Logger: log})
	if err != nil {
		return finish(log, start, err)
	}
	if err := p.teardown(c, s, nl, a, log); err != nil {
		return finish(log, start, err)
	}
	return finish(log, start, nil, "pod", a.Namespace+"/"+a.Name)
}

// teardown removes attachment a from the node, sparing what other
// attachments use, and deletes its record. The caller holds the node lock.
func (p *plugin) teardown(c *config, s *store, nl *kernel.Netlink, a *attachment, log *slog.Logger) error {
	b, err := c.teardownBuilder()
	if err != nil {
		return err
	}
	td, err := b.Teardown(a.pod())
	if err != nil {
		return types.NewError(codeTeardown, fmt.Sprintf("attachment %s/%s: %v", a.ContainerID, a.IfName, err), "")
	}
	if a.HostVeth != "" && !slices.ContainsFunc(td.Purge.Links, func(l enforce.LinkRef) bool { return l.Name == a.HostVeth }) {
		// Set up with another veth prefix than the one configured now.
		td.Purge.Links = append(td.Purge.Links, enforce.LinkRef{Name: a.HostVeth})
	}
	all, err := s.All()
	if err != nil {
		return err
	}
	live := slices.DeleteFunc(all, func(o *attachment) bool { return o.Network == a.Network && o.key() == a.key() })
	spare(&td, live)
	if err := nl.Apply(p.ctx, &td); err != nil {
		return types.NewError(codeTeardown, fmt.Sprintf("pod %s/%s: %v", a.Namespace, a.Name, err),
			"the attachment's record is kept; DEL or GC tries again")
	}
	log.Debug("torn down", "pod", a.Namespace+"/"+a.Name, "vlan", a.Branch.VLANID)
	return s.Delete(a.Network, a.ContainerID, a.IfName)
}

// fromPrevResult rebuilds what teardown needs from the result of ADD that
// the runtime passes to DEL, for an attachment whose record is gone (a
// wiped state directory): the VLAN link's name gives the VLAN, the IP the
// pod's address (of the node's family), CNI_ARGS the pod's name. It returns nil when the result
// is not one of this plugin's.
func fromPrevResult(c *config, args *skel.CmdArgs) *attachment {
	pa, ok := parsePodArgs(args.Args)
	if !ok || len(c.raw.RawPrevResult) == 0 {
		return nil
	}
	r, err := version.NewResult(c.raw.CNIVersion, c.raw.RawPrevResult)
	if err != nil {
		return nil
	}
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		return nil
	}
	a := &attachment{Version: stateVersion, Network: c.raw.Name, ContainerID: args.ContainerID, IfName: args.IfName, Namespace: pa.Namespace, Name: pa.Name}
	for _, i := range res.Interfaces {
		if v, ok := strings.CutPrefix(i.Name, "vlan.eth."); ok {
			a.Branch.VLANID, _ = strconv.Atoi(v)
		}
	}
	v6 := c.opts.Family == enforce.IPv6
	for _, ip := range res.IPs {
		addr, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			continue
		}
		if addr = addr.Unmap(); v6 && addr.Is6() {
			a.Branch.IPv6 = addr
			break
		} else if !v6 && addr.Is4() {
			a.Branch.PrivateIP = addr
			break
		}
	}
	if a.Branch.VLANID == 0 || !c.podAddr(a.Branch).IsValid() {
		return nil
	}
	return a
}

func (p *plugin) check(args *skel.CmdArgs) error {
	c, log, done, err := p.start(args, "CHECK")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	return finish(log, start, p.doCheck(c, args))
}

func (p *plugin) doCheck(c *config, args *skel.CmdArgs) error {
	s, err := openStore(c.stateDir)
	if err != nil {
		return err
	}
	if err := s.Lock(); err != nil {
		return err
	}
	defer s.Unlock()
	a, err := s.Get(c.raw.Name, args.ContainerID, args.IfName)
	if err != nil {
		return err
	}
	if a == nil {
		return types.NewError(codeCheck, fmt.Sprintf("no attachment of container %s on %s: ADD did not wire it, or DEL removed it", args.ContainerID, args.IfName), c.stateDir)
	}
	if a.NetNS != args.Netns {
		return types.NewError(codeCheck, fmt.Sprintf("pod %s/%s was wired in network namespace %s, not %s", a.Namespace, a.Name, a.NetNS, args.Netns), "")
	}
	// Rebuild the plans the attachment was set up with: its mode and veth
	// prefix, the configuration's other settings.
	mc := *c
	mc.opts.Mode, err = enforce.ParseMode(a.Mode)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("attachment record of %s/%s: %v", a.Namespace, a.Name, err), "")
	}
	if mc.opts.Mode == enforce.Standard && len(a.HostVeth) > 11 {
		mc.opts.VethPrefix = a.HostVeth[:len(a.HostVeth)-11]
	}
	b, err := mc.builder(firstIPv4, s.NodeMark().NFTables)
	if err != nil {
		return err
	}
	setup, err := b.Setup(a.pod())
	if err != nil {
		return types.NewError(codeCheck, fmt.Sprintf("pod %s/%s: %v", a.Namespace, a.Name, err), "")
	}
	if err := checkPrevResult(c, a); err != nil {
		return err
	}
	node := b.Node()
	node.Want.Chains, node.Want.IPTables = nil, nil
	for _, plan := range []*enforce.Plan{&setup, &node} {
		diff, err := verify(plan, c.standIn != nil)
		if err != nil {
			return types.NewError(types.ErrIOFailure, fmt.Sprintf("pod %s/%s: reading the network state: %v", a.Namespace, a.Name, err), "")
		}
		if diff != "" {
			return types.NewError(codeCheck, fmt.Sprintf("pod %s/%s: %s", a.Namespace, a.Name, diff),
				fmt.Sprintf("%s of the %s mode; DEL and ADD again to rewire it", plan, a.Mode))
		}
	}
	return nil
}

// checkPrevResult compares the runtime's copy of the ADD result with the
// attachment: the pod's IP must be the branch ENI's (of the node's family).
func checkPrevResult(c *config, a *attachment) error {
	if len(c.raw.RawPrevResult) == 0 {
		return types.NewError(codeCheck, "CHECK needs the prevResult of ADD, and the runtime sent none", "")
	}
	r, err := version.NewResult(c.raw.CNIVersion, c.raw.RawPrevResult)
	if err == nil {
		var res *types100.Result
		if res, err = types100.NewResultFromResult(r); err == nil {
			for _, ip := range res.IPs {
				if addr, ok := netip.AddrFromSlice(ip.Address.IP); ok && addr.Unmap() == c.podAddr(a.Branch) {
					return nil
				}
			}
			return types.NewError(codeCheck, fmt.Sprintf("pod %s/%s: the runtime's result does not list the branch ENI's IP %s", a.Namespace, a.Name, c.podAddr(a.Branch)), "")
		}
	}
	return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("prevResult: %v", err), "")
}

func (p *plugin) gc(args *skel.CmdArgs) error {
	c, log, done, err := p.start(args, "GC")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	n, err := p.doGC(c, log)
	return finish(log, start, err, "removed", n)
}

// doGC tears down every attachment of this network that the runtime does
// not list as valid.
func (p *plugin) doGC(c *config, log *slog.Logger) (int, error) {
	s, err := openStore(c.stateDir)
	if err != nil {
		return 0, err
	}
	if err := s.Lock(); err != nil {
		return 0, err
	}
	defer s.Unlock()
	valid := map[types.GCAttachment]bool{}
	for _, v := range c.validAttachments() {
		valid[v] = true
	}
	all, err := s.All()
	if err != nil {
		return 0, err
	}
	nl, err := kernel.NewNetlink(kernel.NetlinkOptions{Logger: log})
	if err != nil {
		return 0, err
	}
	var errs []string
	n := 0
	for _, a := range all {
		if a.Network != c.raw.Name || valid[a.key()] {
			continue
		}
		if err := p.teardown(c, s, nl, a, log); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		log.Info("collected", "container", a.ContainerID, "ifname", a.IfName, "pod", a.Namespace+"/"+a.Name)
		n++
	}
	if len(errs) > 0 {
		return n, types.NewError(codeTeardown, fmt.Sprintf("GC could not tear down %d attachments: %s", len(errs), errs[0]), strings.Join(errs, "; "))
	}
	return n, nil
}

func (p *plugin) status(args *skel.CmdArgs) error {
	c, log, done, err := p.start(args, "STATUS")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	return finish(log, start, doStatus(c))
}

// doStatus says whether ADD can succeed on this node: the trunk link
// exists, iptables is installed, the state directory is writable and the
// kubeconfig is usable.
func doStatus(c *config) error {
	unavailable := func(msg string) error { return types.NewError(types.ErrPluginNotAvailable, msg, "") }
	if _, err := netlink.LinkByName(c.opts.TrunkLink); err != nil {
		return unavailable(fmt.Sprintf("trunk link %s: %v: the node has no trunk ENI yet (the controller attaches one), or trunkLink is wrong", c.opts.TrunkLink, err))
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return unavailable("iptables is not installed: podsg-cni needs it for the node's SNAT rules")
	}
	if _, err := openStore(c.stateDir); err != nil {
		return unavailable(err.Error())
	}
	if _, err := loadKubeconfig(c.kubeconfig); err != nil {
		return unavailable(err.Error())
	}
	return nil
}
