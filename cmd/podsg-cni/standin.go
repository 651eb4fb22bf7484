//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// standIn returns the VLAN stand-in of kernel.NetlinkOptions for the
// vlanStandIn setting: instead of the 802.1Q link of branch b, a veth pair
// whose node end is named like the VLAN link and whose other end
// (PeerPrefix + VLAN ID) goes into the namespace that plays the VPC. There
// it does what the VPC does for a branch ENI: it answers for the subnet's
// gateway (the VPC's IPv6 router fe80:ec2::1 on an IPv6 node) and delivers
// the branch's IP (of the node's family) to the branch's MAC. Deleting the
// node end (teardown) deletes the VPC end with its routes.
func standIn(conf *standInConf, b podeni.BranchENI, family enforce.Family) func(context.Context, enforce.VLANLink) error {
	return func(_ context.Context, l enforce.VLANLink) error {
		vpc, err := netns.GetFromPath(conf.PeerNetNS)
		if err != nil {
			return fmt.Errorf("vlanStandIn.peerNetNS %s: %w", conf.PeerNetNS, err)
		}
		defer vpc.Close()
		h, err := netlink.NewHandleAt(vpc)
		if err != nil {
			return fmt.Errorf("vlanStandIn.peerNetNS %s: %w", conf.PeerNetNS, err)
		}
		defer h.Close()
		peer := conf.PeerPrefix + strconv.Itoa(l.VLANID)
		if old, err := h.LinkByName(peer); err == nil {
			// Left by a node end that was moved or a crashed run.
			if err := h.LinkDel(old); err != nil {
				return fmt.Errorf("delete stale stand-in peer %s: %w", peer, err)
			}
		}
		err = netlink.LinkAdd(&netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: l.Name, MTU: l.MTU, HardwareAddr: net.HardwareAddr(l.MAC[:])},
			PeerName:      peer,
			PeerMTU:       uint32(l.MTU),
			PeerNamespace: netlink.NsFd(int(vpc)),
		})
		if err != nil {
			return fmt.Errorf("create the veth %s <-> %s: %w", l.Name, peer, err)
		}
		pl, err := h.LinkByName(peer)
		if err == nil {
			err = h.LinkSetUp(pl)
		}
		ip, gw, fam, scope := b.PrivateIP, &netlink.Addr{IPNet: hostPrefix(b.Gateway())}, netlink.FAMILY_V4, netlink.SCOPE_LINK
		if family == enforce.IPv6 {
			// The router's link-local address, usable at once (no
			// duplicate address detection: the link has one peer).
			ip, fam, scope = b.IPv6, netlink.FAMILY_V6, netlink.SCOPE_UNIVERSE
			gw = &netlink.Addr{IPNet: &net.IPNet{IP: enforce.VPCGatewayV6.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
		}
		if err == nil {
			err = h.AddrAdd(pl, gw)
		}
		if err == nil {
			err = h.NeighSet(&netlink.Neigh{LinkIndex: pl.Attrs().Index, Family: fam, State: netlink.NUD_PERMANENT,
				IP: ip.AsSlice(), HardwareAddr: net.HardwareAddr(b.MAC[:])})
		}
		if err == nil {
			err = h.RouteReplace(&netlink.Route{LinkIndex: pl.Attrs().Index, Dst: hostPrefix(ip), Scope: scope})
		}
		if err != nil {
			if l, lerr := netlink.LinkByName(l.Name); lerr == nil {
				_ = netlink.LinkDel(l)
			}
			return fmt.Errorf("wire the stand-in's VPC end %s: %w", peer, err)
		}
		return nil
	}
}

func hostPrefix(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// firstIPv4 returns the first global IPv4 address of a link: the node's
// primary IP on its primary interface.
func firstIPv4(ifName string) (netip.Addr, error) {
	l, err := netlink.LinkByName(ifName)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return ip.Unmap(), nil
		}
	}
	return netip.Addr{}, errors.New("no IPv4 address")
}
