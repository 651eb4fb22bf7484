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

// FuzzFilterValue feeds arbitrary filter values, wildcards and escapes
// included: a Describe call never fails on a value, and a value without an
// unescaped wildcard matches exactly the string it spells once its
// backslash escapes are removed.
func FuzzFilterValue(f *testing.F) {
	ec := fake.New(fake.Options{DisableThrottling: true, CallLogSize: -1})
	subnet := ec.AddSubnet(ec.AddVPC("10.0.0.0/16"), "10.0.0.0/24", "")
	ec.AddENI(subnet, "aws-k8s-branch-eni")
	ec.AddENI(subnet, "a/b[c]*d?")
	for _, s := range []string{"aws-k8s-*", "*", "?", "a/b[c]*d?", `a/b[c]\*d\?`, "[", "\\", "a/*", `aws-k8s-branch-en\i`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out, err := ec.DescribeNetworkInterfaces(t.Context(), &ec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("description"), Values: []string{v}}}})
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		literal, wild := unescape(v)
		for _, e := range out.NetworkInterfaces {
			if d := aws.ToString(e.Description); !wild && d != literal {
				t.Fatalf("value %q matched %q", v, d)
			}
		}
	})
}

// unescape returns the string a filter value spells with its backslash
// escapes removed, and whether it has an unescaped wildcard.
func unescape(v string) (string, bool) {
	var b []rune
	wild, escaped := false, false
	for _, r := range v {
		switch {
		case escaped:
			b = append(b, r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '*' || r == '?':
			wild = true
		default:
			b = append(b, r)
		}
	}
	if escaped {
		b = append(b, '\\')
	}
	return string(b), wild
}
