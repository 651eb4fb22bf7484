// Package nlconv spells the values of enforce's plans (netip addresses and
// prefixes, sysctl keys) the way the kernel's interfaces take and give them
// back (net.IPNet and address families in package netlink, paths under
// /proc/sys). The kernel appliers and the CNI plugin's check of their work
// share it, so that what one writes the other reads the same way.
//
// The package builds on Linux only.
package nlconv
