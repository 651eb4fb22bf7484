package fake

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/podsg/podsg/internal/ec2err"
)

// EC2 error codes the fake answers with. They are EC2's own codes, so code
// written against the fake can branch on the same strings it meets in
// production (through smithy.APIError's ErrorCode method).
const (
	CodeRequestLimitExceeded         = "RequestLimitExceeded"
	CodeDryRunOperation              = "DryRunOperation"
	CodeMissingParameter             = "MissingParameter"
	CodeInvalidParameterValue        = "InvalidParameterValue"
	CodeInvalidParameterCombination  = "InvalidParameterCombination"
	CodeInvalidParameter             = "InvalidParameter"
	CodeInvalidPaginationToken       = "InvalidPaginationToken"
	CodeInvalidID                    = "InvalidID"
	CodeIdempotentParameterMismatch  = "IdempotentParameterMismatch"
	CodeDependencyViolation          = "DependencyViolation"
	CodeAttachmentLimitExceeded      = "AttachmentLimitExceeded"
	CodeInsufficientFreeAddresses    = "InsufficientFreeAddressesInSubnet"
	CodeSecurityGroupsPerInterface   = "SecurityGroupsPerInterfaceLimitExceeded"
	CodeRulesPerSecurityGroup        = "RulesPerSecurityGroupLimitExceeded"
	CodeTagLimitExceeded             = "TagLimitExceeded"
	CodeUnsupportedOperation         = "UnsupportedOperation"
	CodeOperationNotPermitted        = "OperationNotPermitted"
	CodeIncorrectInstanceState       = "IncorrectInstanceState"
	CodeUnauthorizedOperation        = "UnauthorizedOperation"
	CodeInternalError                = "InternalError"
	CodeNetworkInterfaceInUse        = "InvalidNetworkInterface.InUse"
	CodeIPAddressInUse               = "InvalidIPAddress.InUse"
	CodeGroupDuplicate               = "InvalidGroup.Duplicate"
	CodeGroupCannotDelete            = "CannotDelete"
	CodePermissionDuplicate          = "InvalidPermission.Duplicate"
	CodePermissionNotFound           = "InvalidPermission.NotFound"
	CodeVpcRange                     = "InvalidVpc.Range"
	CodeSubnetRange                  = "InvalidSubnet.Range"
	CodeSubnetConflict               = "InvalidSubnet.Conflict"
	CodeVPCIDNotSpecified            = "VPCIdNotSpecified"
	CodeInvalidInstanceType          = "InvalidInstanceType"
	CodeNetworkInterfaceNotFound     = "InvalidNetworkInterfaceID.NotFound"
	CodeNetworkInterfaceMalformed    = "InvalidNetworkInterfaceID.Malformed"
	CodeSecurityGroupIDNotFound      = "InvalidSecurityGroupID.NotFound"
	CodeGroupNotFound                = "InvalidGroup.NotFound"
	CodeGroupIDMalformed             = "InvalidGroupId.Malformed"
	CodeSecurityGroupRuleIDNotFound  = "InvalidSecurityGroupRuleId.NotFound"
	CodeSecurityGroupRuleIDMalformed = "InvalidSecurityGroupRuleId.Malformed"
	CodeSubnetNotFound               = "InvalidSubnetID.NotFound"
	CodeSubnetIDMalformed            = "InvalidSubnetID.Malformed"
	CodeVpcNotFound                  = "InvalidVpcID.NotFound"
	CodeVpcIDMalformed               = "InvalidVpcID.Malformed"
	CodeInstanceNotFound             = "InvalidInstanceID.NotFound"
	CodeInstanceIDMalformed          = "InvalidInstanceID.Malformed"
	CodeAttachmentNotFound           = "InvalidAttachmentID.NotFound"
	CodeAssociationNotFound          = "InvalidAssociationID.NotFound"
)

// ErrLostResponse is matched (errors.Is) by the error a call returns when an
// injected fault lost its response: the fake applied the change, then
// withheld the answer, as when a connection drops after EC2 has acted. This
// is the case that leaks ENIs in production controllers: the caller must
// find out what happened (by ClientToken retry or a Describe call) instead of
// assuming nothing did.
//
// A server in front of the fake should drop the connection without writing a
// response when errors.Is(err, ErrLostResponse). The error is deliberately
// not a smithy.APIError: on the wire there is no EC2 error to decode.
var ErrLostResponse = errors.New("fake: response lost after the request was applied")

// LostResponseError is the concrete error behind ErrLostResponse. It names
// the action whose response was withheld. It is immutable once returned.
type LostResponseError struct {
	Action Action
}

func (e *LostResponseError) Error() string {
	return fmt.Sprintf("fake: %s: response lost after the request was applied; "+
		"describe the resources (or retry with the same ClientToken) to learn the outcome", e.Action)
}

// Is reports whether target is ErrLostResponse.
func (e *LostResponseError) Is(target error) bool { return target == ErrLostResponse }

// apiError builds the error value EC2 calls return: a *smithy.GenericAPIError
// with EC2's code and message.
func apiError(code, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	fault := smithy.FaultClient
	if code == CodeInternalError || code == "Unavailable" || code == "ServiceUnavailable" {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

// opError wraps err the way the SDK does, in a *smithy.OperationError naming
// the service and operation, so that error strings read like the real
// client's and errors.As(err, &smithy.APIError) finds the EC2 error.
func opError(action string, err error) error {
	return &smithy.OperationError{ServiceID: "EC2", OperationName: action, Err: err}
}

// ErrorCode returns the EC2 error code of err (a smithy.APIError anywhere in
// its chain), or "" when there is none. It is the same function as
// trunk.ErrorCode, here so that tests of the fake need not import trunk.
func ErrorCode(err error) string { return ec2err.Code(err) }

// HTTPStatus returns the HTTP status code EC2 answers err with on the wire:
// 503 for throttling (RequestLimitExceeded) and Unavailable, 412 for
// DryRunOperation, 403 for UnauthorizedOperation, 500 for server faults such as
// InternalError, and 400 for every other EC2 error. It returns 200 for a nil
// error and 500 for an error that carries no EC2 code. A server should check
// errors.Is(err, ErrLostResponse) first and drop the connection instead.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return http.StatusInternalServerError
	}
	switch ae.ErrorCode() {
	case CodeRequestLimitExceeded, "Unavailable", "ServiceUnavailable":
		return http.StatusServiceUnavailable
	case CodeDryRunOperation:
		return http.StatusPreconditionFailed
	case CodeUnauthorizedOperation:
		return http.StatusForbidden
	case "AuthFailure":
		return http.StatusUnauthorized
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// IsThrottle reports whether err is EC2's throttling error.
func IsThrottle(err error) bool { return ErrorCode(err) == CodeRequestLimitExceeded }

// notFound builds EC2's "does not exist" error for one or more IDs of a kind
// ("networkInterface", "securityGroup", "subnet", ...).
func notFound(code, kind string, ids ...string) error {
	if len(ids) == 1 {
		return apiError(code, "The %s ID '%s' does not exist", kind, ids[0])
	}
	return apiError(code, "The %s IDs '%s' do not exist", kind, strings.Join(ids, ", "))
}

func missing(param string) error {
	return apiError(CodeMissingParameter, "The request must contain the parameter %s", param)
}

func invalidValue(format string, args ...any) error {
	return apiError(CodeInvalidParameterValue, format, args...)
}

func dryRunError() error {
	return apiError(CodeDryRunOperation, "Request would have succeeded, but DryRun flag is set.")
}
