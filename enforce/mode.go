package enforce

import "fmt"

// Mode is the enforcing mode of a node, the value of the VPC CNI plugin's
// POD_SECURITY_GROUP_ENFORCING_MODE. The zero value is Strict, the plugin's
// default.
type Mode uint8

const (
	// Strict sends every packet of a pod, even to the node itself, through
	// the pod's branch ENI, so that the pod's security groups always apply.
	Strict Mode = iota
	// Standard lets node-local traffic (kubelet probes, NodeLocal DNSCache)
	// reach the pod over its veth, outside its security groups, and SNATs
	// traffic that leaves the VPC to the node's primary IP unless external
	// SNAT is on.
	Standard
)

// String returns "strict" or "standard" (or "Mode(N)" for an invalid value).
func (m Mode) String() string {
	switch m {
	case Strict:
		return "strict"
	case Standard:
		return "standard"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Valid reports whether m is Strict or Standard.
func (m Mode) Valid() bool { return m == Strict || m == Standard }

// ParseMode parses the spelling the CNI plugin accepts: "strict" or
// "standard". The error quotes the input and matches ErrInvalidOptions.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "strict":
		return Strict, nil
	case "standard":
		return Standard, nil
	}
	return 0, &FieldError{Field: "Mode", Value: fmt.Sprintf("%q", s), Reason: `want "strict" or "standard"`}
}

// MarshalText returns "strict" or "standard", so that a Mode reads and
// writes as the plugin's setting in JSON and YAML. An invalid Mode is an
// error.
func (m Mode) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, &FieldError{Field: "Mode", Value: m.String(), Reason: "want Strict or Standard"}
	}
	return []byte(m.String()), nil
}

// UnmarshalText parses "strict" or "standard", like ParseMode; "" means
// Strict, as an unset POD_SECURITY_GROUP_ENFORCING_MODE does.
func (m *Mode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = Strict
		return nil
	}
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
