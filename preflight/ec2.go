package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// EC2 is the part of the EC2 API that preflight reads. Its method has the
// aws-sdk-go-v2 signature, so *ec2.Client and *fake.EC2 both satisfy it.
// preflight never calls a mutating operation.
type EC2 interface {
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
}

// describeBatch bounds the number of group IDs in one DescribeSecurityGroups
// request.
const describeBatch = 200

// notFoundCodes are the EC2 error codes that mean a security group does not
// exist: DescribeSecurityGroups answers InvalidGroup.NotFound, while
// CreateNetworkInterface (what a pod's branch ENI would meet) answers
// InvalidSecurityGroupID.NotFound.
var notFoundCodes = []string{"InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound", "InvalidGroupId.Malformed"}

// MissingGroup is a security group EC2 said it does not know.
type MissingGroup struct {
	// ID is the group ID that was asked for.
	ID string
	// Err is EC2's own error for that ID, a smithy.APIError.
	Err error
}

// LoadGroups describes the security groups ids (duplicates and empty IDs
// are ignored) and compiles them into a Groups snapshot.
//
// A group EC2 does not know is not an error: it is returned in missing, with
// EC2's own error, and left out of the snapshot. Every other failure
// (throttling, permissions, a network error) is returned as err, wrapped with
// the operation that failed. Pages are followed with NextToken.
func LoadGroups(ctx context.Context, client EC2, ids []string) (g *Groups, missing []MissingGroup, err error) {
	ids = uniqueSorted(ids)
	var found []types.SecurityGroup
	for batch := range slices.Chunk(ids, describeBatch) {
		sgs, err := describeGroups(ctx, client, batch)
		if err == nil {
			found = append(found, sgs...)
			continue
		}
		if !isNotFound(err) {
			return nil, nil, err
		}
		// One unknown ID fails the whole request: ask for each ID on its
		// own to learn which ones exist, keeping EC2's message for those
		// that do not.
		for _, id := range batch {
			sgs, err := describeGroups(ctx, client, []string{id})
			switch {
			case err == nil:
				found = append(found, sgs...)
			case isNotFound(err):
				missing = append(missing, MissingGroup{ID: id, Err: err})
			default:
				return nil, nil, err
			}
		}
	}
	g, err = NewGroups(found)
	if err != nil {
		return nil, nil, err
	}
	return g, missing, nil
}

func describeGroups(ctx context.Context, client EC2, ids []string) ([]types.SecurityGroup, error) {
	var out []types.SecurityGroup
	p := ec2.NewDescribeSecurityGroupsPaginator(client, &ec2.DescribeSecurityGroupsInput{GroupIds: ids})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("preflight: DescribeSecurityGroups %v: %w", ids, err)
		}
		out = append(out, page.SecurityGroups...)
	}
	return out, nil
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(notFoundCodes, ae.ErrorCode())
}

// apiMessage returns "Code: Message" of the EC2 error in err, or err's text.
func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func uniqueSorted(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
