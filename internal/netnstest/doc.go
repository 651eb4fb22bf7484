// Package netnstest gives tests network namespaces of their own: a test
// creates as many as it needs (NewNetNS), wires links, addresses and
// routes in them through each namespace's netlink handle, runs code and
// commands inside one (NetNS.Do), and compares its state before and after
// (NetNS.Snapshot). The test process's own namespace is never changed, and
// each namespace goes away with its links when the test ends.
//
// Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): a test
// calls RequireRoot first, which skips it without root, or fails it when
// PODSG_REQUIRE_ROOT_TESTS=1 (as CI runs the tests).
//
// The package builds on Linux only.
package netnstest
