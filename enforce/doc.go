// Package enforce wires a pod's branch ENI on the node, in the VPC CNI
// plugin's strict or standard mode, and tears it down again.
//
// The work splits in three, so that each part can be inspected and tested
// on its own:
//
//   - Builder turns the node's Options and a Pod (its branch ENI from the
//     vpc.amazonaws.com/pod-eni annotation, netns, interface name and
//     namespace/name) into a Plan: plain values for links, addresses,
//     neighbours, routes, rules, sysctls, iptables chains and the nftables
//     table of the connection marks. It does no I/O. Builder.Node is
//     applied once per node, Builder.Setup per pod (CNI ADD),
//     Builder.Teardown per pod (CNI DEL).
//   - Plan.Script renders a plan as ip, iptables, nft and sysctl commands,
//     for debugging and documentation; nothing in this package runs it.
//   - An Applier makes a plan true: kernel.Netlink (links, routes, rules,
//     sysctls through netlink) and kernel.IPTables (NAT through iptables,
//     connection marks through nftables) in package enforce/kernel,
//     combined by Join, and enforcetest.Fake, an in-memory model for unit
//     tests of CNI plugins and node agents.
//
// This package only plans: it imports the standard library and api/podeni,
// and builds on every operating system. The Linux appliers, which link
// github.com/vishvananda/netlink, github.com/coreos/go-iptables and
// github.com/google/nftables, live in enforce/kernel, so a program that
// plans, renders or tests with the fake links none of them (a test of this
// module checks it).
//
// # What a plan contains
//
// Names and numbers follow the CNI plugin: the VLAN link is
// "vlan.eth.<vlan>" on the trunk link with the branch ENI's MAC; the host
// veth is a prefix ("vlan" in strict mode, "eni" or Options.VethPrefix in
// standard mode) followed by 11 hex digits of sha1("<namespace>.<name>");
// the branch's routing table is vlan+100 with the subnet's first address +1
// as gateway. In the pod: podIP/32 on the interface, a link route to
// 169.254.1.1 and a default route through it, and a permanent neighbour
// entry mapping 169.254.1.1 to the host veth's MAC.
//
// Strict mode routes the pod's veth and VLAN link to each other only, with
// priority-10 "iif" rules into the branch table, and moves the local-table
// rule to priority 20: every packet of the pod, even to the node itself,
// crosses the branch ENI and so its security groups. Standard mode puts the
// pod route in the main table with a priority-512 "to podIP lookup main"
// rule and a priority-1536 "from podIP lookup <table>" rule: node-local
// traffic uses the veth. Unless Options.ExternalSNAT is set, the node plan
// adds chain AWS-SNAT-CHAIN-0 (SNAT to the node's IP for everything but the
// VPC's and the excluded CIDRs, never out of vlan+ links) and connection
// mark 0x80 with a priority-1024 fwmark rule, so that a standard-mode pod's
// traffic to outside the VPC leaves through the primary interface, SNATed.
// NodePort support (on unless Options.DisableNodePortSupport) marks the
// connections that come in on the primary interface to the node's own
// addresses, so that a pod's replies to a NodePort client leave through the
// primary interface too, even with external SNAT. tcp_early_demux stays 1
// unless Options.DisableTCPEarlyDemux, which strict-mode nodes need for
// kubelet's TCP probes. On nodes whose iptables is the nf_tables variant
// (Options.NFTables) the connection marks live in the nftables table
// aws-cni (ConnmarkTable) rather than in AWS-CONNMARK-CHAIN-0, as the plugin
// keeps them since v1.23. All of it is the VPC CNI plugin's, rule for rule
// and comment for comment, so that the plugin and this package do not undo
// each other's work.
//
// # IPv6
//
// With Options.Family = IPv6 (the VPC CNI plugin's ENABLE_IPv6) a pod gets
// its branch ENI's IPv6 address, whatever else the annotation carries, as
// the plugin gives a pod one address of the cluster's family. The plan
// mirrors the plugin's: the pod's /128 (without duplicate address
// detection, see Addr.NoDAD) and fe80::1 as its gateway; the branch table
// routes through fe80:ec2::1, the address at which the VPC's router always
// answers and from which it sends its router advertisements (the subnet's
// first address is the IPv4 gateway only); IPv6 rules at the same
// priorities; IPv6 enabled in the pod; and on the VLAN link and the host
// veth accept_ra=0, accept_redirects=1 and forwarding=0, set before the
// links come up (also on IPv4 nodes, where the kernel has IPv6). The node
// plan turns IPv6 forwarding on, keeps router advertisements on the primary
// interface (accept_ra=2), and in strict mode lets the router's ICMPv6
// reach the local table, or the VLAN links could not resolve it. An IPv6
// node has no SNAT.
//
// # Idempotency and failures
//
// Applying a plan twice changes nothing the second time. A setup plan also
// purges what a force-deleted pod left behind (rules of the same table,
// veth or pod IP, a stale VLAN link or veth of the same name), and is
// transactional: on failure, what the call added is removed. Teardown
// removes both modes' rules whatever the node's mode.
//
// The kernel appliers' tests in enforce/kernel prove both modes with real
// TCP connections across network namespaces.
package enforce
