package ec2err_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/internal/ec2err"
)

func TestCode(t *testing.T) {
	notFound := &smithy.GenericAPIError{Code: "InvalidNetworkInterfaceID.NotFound", Message: "The networkInterface ID 'eni-1' does not exist"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("connection refused"), ""},
		{"cancelled", context.Canceled, ""},
		{"API error", notFound, "InvalidNetworkInterfaceID.NotFound"},
		{"as the SDK wraps it", &smithy.OperationError{ServiceID: "EC2", OperationName: "DeleteNetworkInterface", Err: notFound}, "InvalidNetworkInterfaceID.NotFound"},
		{"wrapped again", fmt.Errorf("deleting branch ENI: %w", &smithy.OperationError{ServiceID: "EC2", OperationName: "DeleteNetworkInterface", Err: notFound}), "InvalidNetworkInterfaceID.NotFound"},
		{"joined", errors.Join(errors.New("first"), &smithy.GenericAPIError{Code: "RequestLimitExceeded"}), "RequestLimitExceeded"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ec2err.Code(tt.err), tt.name)
	}
}
