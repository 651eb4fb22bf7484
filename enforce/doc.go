// Package enforce wires a pod's branch ENI on the node, in the VPC CNI
// plugin's strict or standard mode, and tears it down again.
//
// The work splits in three, so that each part can be inspected and tested
// on its own:
//
//   - Builder turns the node's Options and a Pod (its branch ENI from the
//     vpc.amazonaws.com/pod-eni annotation, netns, interface name and
//     namespace/name) into a Plan: plain values for links, addresses,
//     neighbours, routes, rules, sysctls and iptables chains. It does no
//     I/O. Builder.Node is applied once per node, Builder.Setup per pod
//     (CNI ADD), Builder.Teardown per pod (CNI DEL).
//   - Plan.Script renders a plan as ip, iptables and sysctl commands, for
//     debugging and documentation; nothing in this package runs it.
//   - An Applier makes a plan true: kernel.Netlink (links, routes, rules,
//     sysctls through netlink) and kernel.IPTables (NAT through iptables)
//     in package enforce/kernel, combined by Join, and enforcetest.Fake, an
//     in-memory model for unit tests of CNI plugins and node agents.
//
// This package only plans: it imports the standard library and api/podeni,
// and builds on every operating system. The Linux appliers, which link
// github.com/vishvananda/netlink and github.com/coreos/go-iptables, live in
// enforce/kernel, so a program that plans, renders or tests with the fake
// links neither (a test of this module checks it).
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
// VPC's CIDRs, never out of vlan+ links) and connection mark 0x80 with a
// priority-1024 fwmark rule, so that a standard-mode pod's traffic to
// outside the VPC leaves through the primary interface, SNATed.
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
