package query

import (
	"errors"

	"github.com/aws/smithy-go"
)

// EC2 error codes produced while decoding a request.
const (
	// CodeUnknownParameter reports a parameter the action does not accept.
	CodeUnknownParameter = "UnknownParameter"
	// CodeInvalidParameterValue reports a value of the wrong type or form.
	CodeInvalidParameterValue = "InvalidParameterValue"
)

// ErrUnsupported is returned (wrapped) for Input or Output types the codec
// cannot handle: types that are not aws-sdk-go-v2 EC2 operation types, or
// outputs of operations missing from the generated table.
var ErrUnsupported = errors.New("query: unsupported type")

// Error is a request the client got wrong, reported with an EC2 error code.
// It implements smithy.APIError with fault "client", so a server can answer
// it like any other EC2 client error (HTTP 400).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorCode returns the EC2 error code.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage returns the EC2 error message.
func (e *Error) ErrorMessage() string { return e.Message }

// ErrorFault reports that the client is at fault.
func (e *Error) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

var _ smithy.APIError = (*Error)(nil)
