// Package eni models branch ENIs on the node and controller side without the
// EC2 SDK: the vpc.amazonaws.com/pod-eni pod annotation that hands a branch
// ENI to the VPC CNI plugin, VLAN allocation on a trunk, and a per-node pool
// of branch ENIs that reuses them across pods.
//
// A CNI fork needs only ParseAnnotation and BranchENI. Controllers use the
// pool, backed by package trunk (or any Backend).
package eni
