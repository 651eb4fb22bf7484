package podeni

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/internal/awsid"
)

// BranchENI is one element of the pod-eni annotation: the branch ENI a pod
// was given and what the node needs to wire it. It is a comparable value.
type BranchENI struct {
	// ID is the ENI ID, "eni-" followed by 8 or 17 lowercase hex digits.
	ID string
	// MAC is the branch ENI's MAC address ("ifAddress").
	MAC MAC
	// PrivateIP is the ENI's primary private IPv4 address; the zero Addr
	// (written "privateIp":"") for an ENI without one, in an IPv6-only
	// subnet.
	PrivateIP netip.Addr
	// IPv6 is the ENI's IPv6 address, if any ("ipv6Addr"). A node of an
	// IPv6 cluster gives the pod this address.
	IPv6 netip.Addr
	// VLANID is the VLAN tag of the branch on its trunk, MinVLAN..MaxVLAN.
	VLANID int
	// SubnetCIDR is the IPv4 CIDR of the ENI's subnet; its first address + 1
	// is the gateway. The controller writes it whenever the subnet has one,
	// even for an ENI without an IPv4 address.
	SubnetCIDR netip.Prefix
	// SubnetV6CIDR is the IPv6 CIDR of the subnet, if any; required with an
	// IPv6 address when there is no IPv4 one.
	SubnetV6CIDR netip.Prefix
	// AssociationID is the trunk association ("trunk-assoc-…").
	AssociationID string
}

// wireENI is the exact JSON shape the VPC CNI plugin reads.
type wireENI struct {
	ENIID         string `json:"eniId"`
	IfAddress     string `json:"ifAddress"`
	PrivateIP     string `json:"privateIp"`
	IPv6Addr      string `json:"ipv6Addr"`
	VLANID        int    `json:"vlanId"`
	SubnetCIDR    string `json:"subnetCidr"`
	SubnetV6CIDR  string `json:"subnetV6Cidr"`
	AssociationID string `json:"associationID"`
}

// ValidENIID reports whether id looks like an EC2 ENI ID: "eni-" followed by
// 8 or 17 lowercase hex digits.
func ValidENIID(id string) bool { return awsid.Valid(id, awsid.ENI) }

// Gateway returns the gateway of the branch's subnet: the subnet's first
// address plus one (10.0.0.0/19 → 10.0.0.1).
func (b BranchENI) Gateway() netip.Addr {
	return b.SubnetCIDR.Masked().Addr().Next()
}

// Validate checks the fields the CNI plugin relies on. The error is an
// *Error naming the first bad field; it matches ErrInvalid.
//
// A branch ENI needs an ID, a MAC, a VLAN ID and at least one address:
//   - an IPv4 address (privateIp) with the subnet's IPv4 CIDR (subnetCidr)
//     containing it;
//   - an IPv6 address (ipv6Addr) with, if given, the subnet's IPv6 CIDR
//     (subnetV6Cidr) containing it; an ENI with only an IPv6 address (as in
//     an IPv6-only subnet, "privateIp":"") must give subnetV6Cidr, which the
//     CNI plugin of an IPv6 cluster requires.
//
// Either address alone or both are valid: which one a pod gets is the
// node's choice (IPv6 clusters use ipv6Addr, IPv4 clusters privateIp).
func (b BranchENI) Validate() error { return b.validate("") }

func (b BranchENI) validate(path string) error {
	bad := func(field, value, reason string) error {
		return &Error{Field: path + field, Value: value, Reason: reason}
	}
	if !ValidENIID(b.ID) {
		return bad("eniId", fmt.Sprintf("%q", b.ID), `want "eni-" followed by 8 or 17 lowercase hex digits`)
	}
	if b.MAC.IsZero() {
		return bad("ifAddress", `""`, "the branch ENI's MAC address is required")
	}
	if b.VLANID < MinVLAN || b.VLANID > MaxVLAN {
		return bad("vlanId", fmt.Sprint(b.VLANID), "want a VLAN ID from 1 to 4094 (0 is reserved)")
	}
	if !b.PrivateIP.IsValid() && !b.IPv6.IsValid() {
		return bad("privateIp", `""`, "want the ENI's private IPv4 address, or an ipv6Addr for an IPv6 branch ENI")
	}
	if b.PrivateIP.IsValid() && (!b.PrivateIP.Is4() || b.PrivateIP.Zone() != "") {
		return bad("privateIp", fmt.Sprintf("%q", b.PrivateIP), "want the ENI's private IPv4 address, or an empty string")
	}
	if b.SubnetCIDR.IsValid() && !b.SubnetCIDR.Addr().Is4() {
		return bad("subnetCidr", fmt.Sprintf("%q", b.SubnetCIDR), "want the subnet's IPv4 CIDR, like 10.0.0.0/19")
	}
	if b.PrivateIP.IsValid() {
		if !b.SubnetCIDR.IsValid() {
			return bad("subnetCidr", `""`, "want the subnet's IPv4 CIDR, like 10.0.0.0/19")
		}
		if !b.SubnetCIDR.Contains(b.PrivateIP) {
			return bad("privateIp", fmt.Sprintf("%q", b.PrivateIP), fmt.Sprintf("the address is outside subnetCidr %s", b.SubnetCIDR))
		}
	}
	if b.IPv6.IsValid() && (!b.IPv6.Is6() || b.IPv6.Is4In6() || b.IPv6.Zone() != "") {
		return bad("ipv6Addr", fmt.Sprintf("%q", b.IPv6), "want the ENI's IPv6 address (not IPv4-mapped, no zone), or an empty string")
	}
	if b.SubnetV6CIDR.IsValid() && (!b.SubnetV6CIDR.Addr().Is6() || b.SubnetV6CIDR.Addr().Is4In6()) {
		return bad("subnetV6Cidr", fmt.Sprintf("%q", b.SubnetV6CIDR), "want the subnet's IPv6 CIDR, like 2600:1f14:abc:de00::/64, or an empty string")
	}
	if b.IPv6.IsValid() {
		switch {
		case b.SubnetV6CIDR.IsValid() && !b.SubnetV6CIDR.Contains(b.IPv6):
			return bad("ipv6Addr", fmt.Sprintf("%q", b.IPv6), fmt.Sprintf("the address is outside subnetV6Cidr %s", b.SubnetV6CIDR))
		case !b.SubnetV6CIDR.IsValid() && !b.PrivateIP.IsValid():
			return bad("subnetV6Cidr", `""`, "an IPv6-only branch ENI needs the subnet's IPv6 CIDR, like 2600:1f14:abc:de00::/64")
		}
	}
	return nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// MarshalJSON encodes b in the CNI's wire shape.
func (b BranchENI) MarshalJSON() ([]byte, error) {
	return json.Marshal(b.wire())
}

func (b BranchENI) wire() wireENI {
	w := wireENI{
		ENIID:         b.ID,
		PrivateIP:     addrString(b.PrivateIP),
		IPv6Addr:      addrString(b.IPv6),
		VLANID:        b.VLANID,
		SubnetCIDR:    prefixString(b.SubnetCIDR),
		SubnetV6CIDR:  prefixString(b.SubnetV6CIDR),
		AssociationID: b.AssociationID,
	}
	if !b.MAC.IsZero() {
		w.IfAddress = b.MAC.String()
	}
	return w
}

// UnmarshalJSON decodes the CNI's wire shape ("vlanId" and "vlanID" both
// work). It checks syntax only; call Validate for the CNI's rules.
func (b *BranchENI) UnmarshalJSON(data []byte) error {
	var w wireENI
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	out, err := fromWire(w, "")
	if err != nil {
		return err
	}
	*b = out
	return nil
}

func fromWire(w wireENI, path string) (BranchENI, error) {
	b := BranchENI{ID: w.ENIID, VLANID: w.VLANID, AssociationID: w.AssociationID}
	bad := func(field, value, reason string) (BranchENI, error) {
		return BranchENI{}, &Error{Field: path + field, Value: fmt.Sprintf("%q", value), Reason: reason}
	}
	var err error
	if w.IfAddress != "" {
		if b.MAC, err = ParseMAC(w.IfAddress); err != nil {
			return bad("ifAddress", w.IfAddress, "want six colon-separated hex octets like 02:ab:cd:ef:01:23")
		}
	}
	if w.PrivateIP != "" {
		if b.PrivateIP, err = netip.ParseAddr(w.PrivateIP); err != nil {
			return bad("privateIp", w.PrivateIP, "not an IP address")
		}
	}
	if w.IPv6Addr != "" {
		if b.IPv6, err = netip.ParseAddr(w.IPv6Addr); err != nil {
			return bad("ipv6Addr", w.IPv6Addr, "not an IP address")
		}
	}
	if w.SubnetCIDR != "" {
		if b.SubnetCIDR, err = netip.ParsePrefix(w.SubnetCIDR); err != nil {
			return bad("subnetCidr", w.SubnetCIDR, "not a CIDR like 10.0.0.0/19")
		}
	}
	if w.SubnetV6CIDR != "" {
		if b.SubnetV6CIDR, err = netip.ParsePrefix(w.SubnetV6CIDR); err != nil {
			return bad("subnetV6Cidr", w.SubnetV6CIDR, "not a CIDR")
		}
	}
	return b, nil
}
