package fake_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/fake"
)

// FuzzNextToken feeds arbitrary pagination tokens to a Describe call: each
// is either a token the fake issued (a page comes back) or refused with
// InvalidPaginationToken, never anything else.
func FuzzNextToken(f *testing.F) {
	ec := fake.New(fake.Options{DisableThrottling: true, CallLogSize: -1})
	subnet := ec.AddSubnet(ec.AddVPC("10.0.0.0/16"), "10.0.0.0/24", "")
	for range 7 {
		ec.AddENI(subnet, "")
	}
	first, err := ec.DescribeNetworkInterfaces(f.Context(), &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(aws.ToString(first.NextToken))
	f.Add("")
	f.Add("ZmFrZTE6")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, tok string) {
		out, err := ec.DescribeNetworkInterfaces(t.Context(), &ec2.DescribeNetworkInterfacesInput{
			MaxResults: aws.Int32(5), NextToken: aws.String(tok)})
		if err != nil {
			if code := fake.ErrorCode(err); code != "InvalidPaginationToken" {
				t.Fatalf("token %q: %v", tok, err)
			}
			return
		}
		if len(out.NetworkInterfaces) > 5 {
			t.Fatalf("token %q: page of %d", tok, len(out.NetworkInterfaces))
		}
	})
}

// FuzzFilterValue feeds arbitrary filter values, wildcards included: a
// Describe call never fails on a value, and a value without wildcards
// matches exactly.
func FuzzFilterValue(f *testing.F) {
	ec := fake.New(fake.Options{DisableThrottling: true, CallLogSize: -1})
	subnet := ec.AddSubnet(ec.AddVPC("10.0.0.0/16"), "10.0.0.0/24", "")
	ec.AddENI(subnet, "aws-k8s-branch-eni")
	ec.AddENI(subnet, "a/b[c]*d?")
	for _, s := range []string{"aws-k8s-*", "*", "?", "a/b[c]*d?", "[", "\\", "a/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out, err := ec.DescribeNetworkInterfaces(t.Context(), &ec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("description"), Values: []string{v}}}})
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		for _, e := range out.NetworkInterfaces {
			d := aws.ToString(e.Description)
			if !containsWildcard(v) && d != v {
				t.Fatalf("value %q matched %q", v, d)
			}
		}
	})
}

func containsWildcard(s string) bool {
	for _, r := range s {
		if r == '*' || r == '?' {
			return true
		}
	}
	return false
}
