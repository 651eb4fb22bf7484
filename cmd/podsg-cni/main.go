//go:build linux

// Command podsg-cni is a CNI plugin that wires pods with their own security
// groups: it gives a pod the branch ENI that the controller wrote in the
// pod's vpc.amazonaws.com/pod-eni annotation, through a VLAN link on the
// node's trunk ENI, in the VPC CNI plugin's strict or standard mode.
//
// Container runtimes run it the way they run every CNI plugin (CNI 1.1.0:
// ADD, DEL, CHECK, GC, STATUS and VERSION), with the binary in /opt/cni/bin
// and a network configuration in /etc/cni/net.d such as
//
//	{
//	  "cniVersion": "1.1.0",
//	  "name": "podsg",
//	  "type": "podsg-cni",
//	  "mode": "strict",
//	  "trunkLink": "eth1",
//	  "vpcCIDRs": ["10.0.0.0/16"],
//	  "kubeconfig": "/etc/cni/net.d/podsg-kubeconfig"
//	}
//
// The README of the repository lists every setting. On ADD the plugin
// reads the pod (K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID from
// CNI_ARGS) from the API server, waiting with back-off while the controller
// has not yet annotated a pod that requests vpc.amazonaws.com/pod-eni; it
// refuses a pod whose UID differs from the runtime's, and a pod that
// neither requests the resource nor carries the annotation. It applies the
// node plan of package enforce when it changed (once per boot), then the
// pod's setup plan, and records the attachment under the state directory,
// so that DEL, CHECK and GC need no API server. Every change of the node's
// network state happens under one file lock per node.
//
// Errors are CNI errors: a code, a message naming the cause and, where it
// helps, details. Codes 100 and up are the plugin's own (see codes.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"
	"golang.org/x/sys/unix"
)

func init() {
	// Network namespace switches (kernel.Netlink does them for sysctls)
	// apply to OS threads; keep main on one.
	runtime.LockOSThread()
}

// supportedVersions are the CNI specification versions the plugin speaks:
// those whose results carry interfaces (0.3.0 on), up to the version of
// the CNI library it is built with. CHECK needs 0.4.0, GC and STATUS 1.1.0.
var supportedVersions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

const about = "podsg-cni: security groups for pods through branch ENIs on the trunk ENI (strict and standard mode)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	p := &plugin{ctx: ctx}
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    p.add,
		Del:    p.del,
		Check:  p.check,
		GC:     p.gc,
		Status: p.status,
	}, supportedVersions, about)
}
