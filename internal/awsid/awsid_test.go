package awsid_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/internal/awsid"
)

func TestValid(t *testing.T) {
	tests := []struct {
		id, prefix string
		want       bool
	}{
		{"sg-0123456789abcdef0", awsid.SecurityGroup, true},
		{"sg-01234567", awsid.SecurityGroup, true},
		{"eni-0123456789abcdef0", awsid.ENI, true},
		{"eni-0a1b2c3d", awsid.ENI, true},
		{"subnet-0123456789abcdef0", awsid.Subnet, true},
		{"i-0123456789abcdef0", awsid.Instance, true},
		{"sg-0123456789ABCDEF0", awsid.SecurityGroup, false},  // uppercase
		{"sg-0123456789abcdefg", awsid.SecurityGroup, false},  // not hex
		{"sg-0123456", awsid.SecurityGroup, false},            // 7 digits
		{"sg-012345678", awsid.SecurityGroup, false},          // 9 digits
		{"sg-0123456789abcdef01", awsid.SecurityGroup, false}, // 18 digits
		{"eni-0123456789abcdef0", awsid.SecurityGroup, false}, // other kind
		{"xx-0123456789abcdef0", awsid.SecurityGroup, false},  // same length, other prefix
		{"sg-", awsid.SecurityGroup, false},
		{"", awsid.SecurityGroup, false},
		{" sg-01234567", awsid.SecurityGroup, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, awsid.Valid(tt.id, tt.prefix), "Valid(%q, %q)", tt.id, tt.prefix)
	}
}

func FuzzValid(f *testing.F) {
	f.Add("sg-0123456789abcdef0")
	f.Add("eni-0a1b2c3d")
	f.Fuzz(func(t *testing.T, id string) {
		if !awsid.Valid(id, awsid.SecurityGroup) {
			return
		}
		hex := id[len(awsid.SecurityGroup):]
		if len(hex) != 8 && len(hex) != 17 {
			t.Fatalf("accepted %q with %d digits", id, len(hex))
		}
		for _, c := range hex {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				t.Fatalf("accepted %q with digit %q", id, c)
			}
		}
	})
}
