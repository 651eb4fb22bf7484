// Package awsid checks the form of EC2 resource IDs: a resource prefix
// followed by 8 or 17 lowercase hexadecimal digits ("sg-0123456789abcdef0",
// or the older "sg-01234567"). It is the one place podsg defines that form;
// api/v1beta1, api/podeni, eni and fake all call it.
//
// A well-formed ID may still name nothing: only EC2 can say whether it
// exists.
package awsid

// Prefixes of the EC2 resource IDs podsg reads and writes.
const (
	ENI           = "eni-"
	SecurityGroup = "sg-"
	Subnet        = "subnet-"
	Instance      = "i-"
)

// Valid reports whether id is prefix followed by 8 or 17 lowercase hex
// digits. EC2 answers an ID of another form with a Malformed error; it still
// honours the 8-digit IDs of older resources. Valid does not allocate.
func Valid(id, prefix string) bool {
	if len(id) != len(prefix)+8 && len(id) != len(prefix)+17 {
		return false
	}
	if id[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
