package eni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/internal/awsid"
)

const (
	// AnnotationKey is the pod annotation that carries the branch ENI a pod
	// was given, read by the VPC CNI plugin on the node.
	AnnotationKey = "vpc.amazonaws.com/pod-eni"
	// ResourceName is the extended resource a matching pod requests ("1")
	// and a node advertises (its branch-ENI limit).
	ResourceName = "vpc.amazonaws.com/pod-eni"
	// FargateAnnotationKey is the pod annotation that lists, comma-separated,
	// the security groups of a Fargate pod.
	FargateAnnotationKey = "fargate.amazonaws.com/pod-sg"

	// MinVLAN and MaxVLAN bound the VLAN IDs that an annotation may carry
	// (802.1Q; 0 is reserved). The allocator in this package hands out only
	// 1..MaxBranchVLAN.
	MinVLAN = 1
	MaxVLAN = 4094
	// MaxBranchVLAN is the highest VLAN ID given to a branch ENI on a trunk,
	// as the VPC resource controller does: VLANs 1..120, of which at most the
	// node's branch-ENI limit are in use at a time.
	MaxBranchVLAN = 120
)

// ErrInvalidAnnotation is matched (errors.Is) by every error that
// ParseAnnotation and BranchENI.Validate return for bad content.
var ErrInvalidAnnotation = errors.New("invalid pod-eni annotation")

// AnnotationError says which field of a pod-eni annotation is wrong and why.
type AnnotationError struct {
	// Field is the JSON path of the field, for example "[0].vlanId".
	Field string
	// Value is the offending value as it appeared, quoted for strings.
	Value string
	// Reason says what is wrong and what was expected.
	Reason string
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("pod-eni annotation: %s %s: %s", e.Field, e.Value, e.Reason)
}

// Is makes AnnotationError match ErrInvalidAnnotation.
func (e *AnnotationError) Is(target error) bool { return target == ErrInvalidAnnotation }

// MAC is an Ethernet (EUI-48) address, comparable and allocation free.
type MAC [6]byte

// ParseMAC parses "02:ab:cd:ef:01:23" (colon-separated, hex, any case).
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, fmt.Errorf("MAC address %q: want six colon-separated hex octets like 02:ab:cd:ef:01:23", s)
	}
	for i := range 6 {
		if i > 0 && s[3*i-1] != ':' {
			return MAC{}, fmt.Errorf("MAC address %q: want six colon-separated hex octets like 02:ab:cd:ef:01:23", s)
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return MAC{}, fmt.Errorf("MAC address %q: want six colon-separated hex octets like 02:ab:cd:ef:01:23", s)
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String formats m as lowercase colon-separated hex.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var b [17]byte
	for i, o := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = digits[o>>4]
		b[3*i+1] = digits[o&0xf]
	}
	return string(b[:])
}

// IsZero reports whether m is the all-zero address.
func (m MAC) IsZero() bool { return m == MAC{} }

// BranchENI is one element of the pod-eni annotation: the branch ENI a pod
// was given and what the node needs to wire it. It is a comparable value.
type BranchENI struct {
	// ID is the ENI ID, "eni-" followed by 8 or 17 lowercase hex digits.
	ID string
	// MAC is the branch ENI's MAC address ("ifAddress").
	MAC MAC
	// PrivateIP is the ENI's primary private IPv4 address.
	PrivateIP netip.Addr
	// IPv6 is the ENI's IPv6 address, if any.
	IPv6 netip.Addr
	// VLANID is the VLAN tag of the branch on its trunk, 1..4094.
	VLANID int
	// SubnetCIDR is the IPv4 CIDR of the ENI's subnet; its first address + 1
	// is the gateway.
	SubnetCIDR netip.Prefix
	// SubnetV6CIDR is the IPv6 CIDR of the subnet, if any.
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

// Gateway returns the gateway of the branch's subnet: the subnet's first
// address plus one (10.0.0.0/19 → 10.0.0.1).
func (b BranchENI) Gateway() netip.Addr {
	return b.SubnetCIDR.Masked().Addr().Next()
}

// Validate checks the fields the CNI plugin relies on. The error names the
// first bad field; it matches ErrInvalidAnnotation.
func (b BranchENI) Validate() error { return b.validate("") }

func (b BranchENI) validate(path string) error {
	bad := func(field, value, reason string) error {
		return &AnnotationError{Field: path + field, Value: value, Reason: reason}
	}
	if !ValidENIID(b.ID) {
		return bad("eniId", fmt.Sprintf("%q", b.ID), `want "eni-" followed by 8 or 17 lowercase hex digits`)
	}
	if b.MAC.IsZero() {
		return bad("ifAddress", `""`, "the branch ENI's MAC address is required")
	}
	if !b.PrivateIP.Is4() {
		return bad("privateIp", fmt.Sprintf("%q", addrString(b.PrivateIP)), "want the ENI's private IPv4 address")
	}
	if b.VLANID < MinVLAN || b.VLANID > MaxVLAN {
		return bad("vlanId", fmt.Sprint(b.VLANID), "want a VLAN ID from 1 to 4094 (0 is reserved)")
	}
	if !b.SubnetCIDR.IsValid() || !b.SubnetCIDR.Addr().Is4() {
		return bad("subnetCidr", fmt.Sprintf("%q", prefixString(b.SubnetCIDR)), "want the subnet's IPv4 CIDR, like 10.0.0.0/19")
	}
	if !b.SubnetCIDR.Contains(b.PrivateIP) {
		return bad("privateIp", fmt.Sprintf("%q", b.PrivateIP), fmt.Sprintf("the address is outside subnetCidr %s", b.SubnetCIDR))
	}
	if b.IPv6.IsValid() && !b.IPv6.Is6() {
		return bad("ipv6Addr", fmt.Sprintf("%q", b.IPv6), "want an IPv6 address or an empty string")
	}
	if b.SubnetV6CIDR.IsValid() && !b.SubnetV6CIDR.Addr().Is6() {
		return bad("subnetV6Cidr", fmt.Sprintf("%q", b.SubnetV6CIDR), "want an IPv6 CIDR or an empty string")
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

// ValidENIID reports whether id looks like an EC2 ENI ID: "eni-" followed by
// 8 or 17 lowercase hex digits.
func ValidENIID(id string) bool { return awsid.Valid(id, awsid.ENI) }

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
	var err error
	if w.IfAddress != "" {
		if b.MAC, err = ParseMAC(w.IfAddress); err != nil {
			return BranchENI{}, &AnnotationError{Field: path + "ifAddress", Value: fmt.Sprintf("%q", w.IfAddress), Reason: "want six colon-separated hex octets like 02:ab:cd:ef:01:23"}
		}
	}
	if w.PrivateIP != "" {
		if b.PrivateIP, err = netip.ParseAddr(w.PrivateIP); err != nil {
			return BranchENI{}, &AnnotationError{Field: path + "privateIp", Value: fmt.Sprintf("%q", w.PrivateIP), Reason: "not an IP address"}
		}
	}
	if w.IPv6Addr != "" {
		if b.IPv6, err = netip.ParseAddr(w.IPv6Addr); err != nil {
			return BranchENI{}, &AnnotationError{Field: path + "ipv6Addr", Value: fmt.Sprintf("%q", w.IPv6Addr), Reason: "not an IP address"}
		}
	}
	if w.SubnetCIDR != "" {
		if b.SubnetCIDR, err = netip.ParsePrefix(w.SubnetCIDR); err != nil {
			return BranchENI{}, &AnnotationError{Field: path + "subnetCidr", Value: fmt.Sprintf("%q", w.SubnetCIDR), Reason: "not a CIDR like 10.0.0.0/19"}
		}
	}
	if w.SubnetV6CIDR != "" {
		if b.SubnetV6CIDR, err = netip.ParsePrefix(w.SubnetV6CIDR); err != nil {
			return BranchENI{}, &AnnotationError{Field: path + "subnetV6Cidr", Value: fmt.Sprintf("%q", w.SubnetV6CIDR), Reason: "not a CIDR"}
		}
	}
	return b, nil
}

// ParseAnnotation parses and validates the value of the pod-eni annotation:
// a JSON array with at least one element. The CNI plugin uses element 0.
// Errors match ErrInvalidAnnotation and name the bad field, e.g. "[0].vlanId".
func ParseAnnotation(value string) ([]BranchENI, error) {
	var ws []wireENI
	if err := json.Unmarshal([]byte(value), &ws); err != nil {
		return nil, &AnnotationError{Field: "(value)", Value: truncate(value), Reason: "not a JSON array of branch ENIs: " + err.Error()}
	}
	if len(ws) == 0 {
		return nil, &AnnotationError{Field: "(value)", Value: truncate(value), Reason: "the array is empty; want at least one branch ENI"}
	}
	out := make([]BranchENI, len(ws))
	for i, w := range ws {
		path := fmt.Sprintf("[%d].", i)
		b, err := fromWire(w, path)
		if err != nil {
			return nil, err
		}
		if err := b.validate(path); err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// FormatAnnotation validates the branch ENIs and encodes them as the value of
// the pod-eni annotation.
func FormatAnnotation(enis ...BranchENI) (string, error) {
	if len(enis) == 0 {
		return "", &AnnotationError{Field: "(value)", Value: "[]", Reason: "want at least one branch ENI"}
	}
	ws := make([]wireENI, len(enis))
	for i, b := range enis {
		if err := b.validate(fmt.Sprintf("[%d].", i)); err != nil {
			return "", err
		}
		ws[i] = b.wire()
	}
	out, err := json.Marshal(ws)
	return string(out), err
}

func truncate(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}
