package fake

import (
	"fmt"
	"strconv"
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

// newID returns prefix plus 17 pseudo-random hex digits, drawn from the
// seed, the key of the running call and how many IDs the call has issued
// (see draws), so that a request gets the same IDs whatever the order of the
// calls around it. The caller holds f.mu.
func (f *EC2) newID(prefix string) string {
	n := f.opN
	f.opN++
	for try := 0; ; try++ {
		h := f.draws.hash("id", prefix, f.opKey, strconv.Itoa(n), strconv.Itoa(try))
		var b strings.Builder
		b.Grow(len(prefix) + 17)
		b.WriteString(prefix)
		for i := range 16 {
			b.WriteByte(hexDigits[(h>>(4*i))&0xf])
		}
		b.WriteByte(hexDigits[mix(h)&0xf])
		id := b.String()
		if !f.issued[id] {
			f.issued[id] = true
			return id
		}
	}
}

// newMAC returns the locally administered unicast MAC address, in EC2's
// format, of the interface id.
func (f *EC2) newMAC(id string) string {
	h := f.draws.hash("mac", id)
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", byte(h), byte(h>>8), byte(h>>16), byte(h>>24), byte(h>>32))
}

// checkID returns EC2's Malformed error when id does not look like an ID of
// the given prefix.
func checkID(id, prefix, code string) error {
	if awsid.Valid(id, prefix) {
		return nil
	}
	return apiError(code, "Invalid id: \"%s\" (expecting \"%s...\")", id, prefix)
}
