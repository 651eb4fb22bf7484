package eni_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
)

const goodAnnotation = `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","ipv6Addr":"","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"","associationID":"trunk-assoc-0123456789abcdef0"}]`

var goodBranch = eni.BranchENI{
	ID:            "eni-0123456789abcdef0",
	MAC:           eni.MAC{0x02, 0xab, 0xcd, 0xef, 0x01, 0x23},
	PrivateIP:     netip.MustParseAddr("10.0.1.7"),
	VLANID:        3,
	SubnetCIDR:    netip.MustParsePrefix("10.0.0.0/19"),
	AssociationID: "trunk-assoc-0123456789abcdef0",
}

func TestParseAnnotation(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      []eni.BranchENI
		wantField string // "" means success
	}{
		{name: "production shape", in: goodAnnotation, want: []eni.BranchENI{goodBranch}},
		{name: "CNI spelling vlanID", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanID":3,"subnetCidr":"10.0.0.0/19","associationID":"trunk-assoc-0123456789abcdef0"}]`, want: []eni.BranchENI{goodBranch}},
		{name: "uppercase MAC, short ENI ID, IPv6", in: `[{"eniId":"eni-0a1b2c3d","ifAddress":"02:AB:CD:EF:01:23","privateIp":"10.0.1.7","ipv6Addr":"2600:1f14::7","vlanId":120,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14::/64"}]`,
			want: []eni.BranchENI{{ID: "eni-0a1b2c3d", MAC: goodBranch.MAC, PrivateIP: goodBranch.PrivateIP, IPv6: netip.MustParseAddr("2600:1f14::7"), VLANID: 120, SubnetCIDR: goodBranch.SubnetCIDR, SubnetV6CIDR: netip.MustParsePrefix("2600:1f14::/64")}}},
		{name: "not JSON", in: `eni-1`, wantField: "(value)"},
		{name: "object not array", in: `{"eniId":"eni-0123456789abcdef0"}`, wantField: "(value)"},
		{name: "empty array", in: `[]`, wantField: "(value)"},
		{name: "empty IP", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].privateIp"},
		{name: "bad IP", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].privateIp"},
		{name: "IP outside subnet", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.9.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].privateIp"},
		{name: "empty MAC", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"","privateIp":"10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].ifAddress"},
		{name: "bad MAC", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02-ab-cd-ef-01-23","privateIp":"10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].ifAddress"},
		{name: "VLAN 0", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanId":0,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].vlanId"},
		{name: "VLAN 4095", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanId":4095,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].vlanId"},
		{name: "bad CIDR", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/33"}]`, wantField: "[0].subnetCidr"},
		{name: "missing CIDR", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanId":3}]`, wantField: "[0].subnetCidr"},
		{name: "bad ENI ID", in: `[{"eniId":"eni-XYZ","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].eniId"},
		{name: "second element bad", in: `[` + goodAnnotation[1:len(goodAnnotation)-1] + `,{"eniId":"eni-0123456789abcdef1","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.8","vlanId":0,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[1].vlanId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eni.ParseAnnotation(tt.in)
			if tt.wantField != "" {
				require.ErrorIs(t, err, eni.ErrInvalidAnnotation)
				var ae *eni.AnnotationError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tt.wantField, ae.Field, err.Error())
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })))
		})
	}
}

func TestFormatAnnotationRoundTrip(t *testing.T) {
	out, err := eni.FormatAnnotation(goodBranch)
	require.NoError(t, err)
	require.JSONEq(t, goodAnnotation, out)

	_, err = eni.FormatAnnotation()
	require.ErrorIs(t, err, eni.ErrInvalidAnnotation)
	bad := goodBranch
	bad.VLANID = 0
	_, err = eni.FormatAnnotation(bad)
	require.ErrorContains(t, err, "[0].vlanId")

	var b eni.BranchENI
	require.NoError(t, json.Unmarshal([]byte(goodAnnotation[1:len(goodAnnotation)-1]), &b))
	require.Equal(t, goodBranch, b)
	require.Equal(t, netip.MustParseAddr("10.0.0.1"), b.Gateway())
}

func TestMAC(t *testing.T) {
	m, err := eni.ParseMAC("02:AB:cd:ef:01:23")
	require.NoError(t, err)
	require.Equal(t, "02:ab:cd:ef:01:23", m.String())
	for _, bad := range []string{"", "02:ab:cd:ef:01", "02:ab:cd:ef:01:2g", "02:ab:cd:ef:01:23:45", "02.ab.cd.ef.01.23"} {
		_, err := eni.ParseMAC(bad)
		require.Error(t, err, bad)
	}
}

// FuzzParseAnnotation checks that the parser never panics, and that whatever
// it accepts formats back to a value that parses to the same ENIs.
func FuzzParseAnnotation(f *testing.F) {
	f.Add(goodAnnotation)
	f.Add(`[{"eniId":"eni-0a1b2c3d","ifAddress":"02:AB:CD:EF:01:23","privateIp":"10.0.1.7","ipv6Addr":"2600:1f14::7","vlanID":120,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14::/64"}]`)
	f.Add(`[]`)
	f.Add(`[{}]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := eni.ParseAnnotation(s)
		if err != nil {
			require.ErrorIs(t, err, eni.ErrInvalidAnnotation)
			return
		}
		out, err := eni.FormatAnnotation(got...)
		require.NoError(t, err)
		again, err := eni.ParseAnnotation(out)
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}
