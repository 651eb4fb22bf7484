// Package enforcetest provides Fake, an in-memory enforce.Applier for unit
// tests of CNI plugins and node agents built on package enforce.
//
// Fake keeps a model of the node's and pods' network namespaces (links,
// addresses, neighbours, routes, rules, sysctls, iptables chains, the
// nftables connmark table), applies plans with the same algorithm as the
// kernel appliers of package enforce/kernel, and refuses what the kernel
// refuses, with errors that wrap ErrRefused. It records every change
// (Changes) and injects failures (FailWhen), so a test can check that a
// failed setup rolls back. It builds on every operating system and needs no
// privileges. It holds iptables chains and nftables tables alike, so unlike
// kernel.IPTables it does not check a node plan's Options.NFTables against
// the node's iptables variant.
package enforcetest
