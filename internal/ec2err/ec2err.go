// Package ec2err reads the EC2 error code out of an error returned by the
// AWS SDK for Go v2 (real EC2) or by package fake, which answers with the
// same error types. trunk.ErrorCode and fake.ErrorCode are its documented
// entry points.
package ec2err

import (
	"errors"

	"github.com/aws/smithy-go"
)

// Code returns the error code of the first smithy.APIError in err's chain
// ("InvalidNetworkInterfaceID.NotFound", "RequestLimitExceeded", ...), or ""
// when err carries none (nil, a cancelled context, a network failure).
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
