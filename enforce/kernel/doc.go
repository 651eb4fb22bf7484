// Package kernel applies the plans of package enforce to a Linux node:
//
//   - Netlink makes the routing part true (links, addresses, neighbours,
//     routes, rules and sysctls) through github.com/vishvananda/netlink;
//   - IPTables makes the netfilter part true: the SNAT and connmark chains
//     and the rules that jump to them through github.com/coreos/go-iptables,
//     and, on nodes whose iptables is the nf_tables variant, the nftables
//     table aws-cni of the connection marks through netlink with
//     github.com/google/nftables (the VPC CNI plugin's library: the rules
//     are the plugin's expressions to the byte, so it takes them for its
//     own). IPTables.NFTables reports the variant, as "iptables --version"
//     says it; a node plan built for the other variant is refused;
//   - enforce.Join combines them: Join(netlink, iptables) for node plans. It
//     lets IPTables refuse a plan before anything changes.
//
// Both share one algorithm with the in-memory enforcetest.Fake: applying a
// plan twice changes nothing the second time, a setup plan purges what a
// force-deleted pod left behind and is transactional (on failure, what the
// call added is removed again), and a teardown plan removes everything it
// can. Errors are *enforce.StepError naming the plan and the step.
//
// The package holds only Linux code; on other systems it is empty. Package
// enforce, which builds the plans, links neither library, so a program that
// only plans or renders scripts builds anywhere.
//
// # Kernels without 802.1Q
//
// NetlinkOptions.VLANStandIn lets a test or simulator provide another link
// (a veth pair, say) in place of the VLAN link; this package's own tests do
// so and prove the modes with real TCP connections across network
// namespaces. They need root; with PODSG_REQUIRE_ROOT_TESTS=1 they fail
// rather than skip without it.
package kernel
