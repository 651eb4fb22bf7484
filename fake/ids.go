package fake

import (
	"fmt"
	"strings"

	"github.com/podsg/podsg/internal/awsid"
)

// ID prefixes of the resources the fake models. Every ID is a prefix followed
// by 17 lower-case hex digits, as EC2 issues them today.
const (
	prefixVPC         = "vpc-"
	prefixSubnet      = "subnet-"
	prefixGroup       = "sg-"
	prefixRule        = "sgr-"
	prefixENI         = "eni-"
	prefixAttachment  = "eni-attach-"
	prefixInstance    = "i-"
	prefixReservation = "r-"
	prefixAssociation = "trunk-assoc-"
)

const hexDigits = "0123456789abcdef"

// newID returns prefix plus 17 pseudo-random hex digits. The caller holds
// f.mu, which guards f.rng, so IDs are a deterministic function of the seed
// and the order of calls.
func (f *EC2) newID(prefix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + 17)
	b.WriteString(prefix)
	for range 17 {
		b.WriteByte(hexDigits[f.rng.IntN(16)])
	}
	id := b.String()
	if f.issued[id] {
		return f.newID(prefix)
	}
	f.issued[id] = true
	return id
}

// newMAC returns a locally administered unicast MAC address in EC2's format.
func (f *EC2) newMAC() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = byte(f.rng.IntN(256))
	}
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4])
}

// checkID returns EC2's Malformed error when id does not look like an ID of
// the given prefix.
func checkID(id, prefix, code string) error {
	if awsid.Valid(id, prefix) {
		return nil
	}
	return apiError(code, "Invalid id: \"%s\" (expecting \"%s...\")", id, prefix)
}
