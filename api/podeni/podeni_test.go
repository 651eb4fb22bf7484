package podeni_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/podeni"
)

const goodAnnotation = `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","ipv6Addr":"","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"","associationID":"trunk-assoc-0123456789abcdef0"}]`

// goodV6Annotation is what the production controller writes for a branch
// ENI without an IPv4 address: json.Marshal of its ENIDetails, whose
// fields are in this order.
const goodV6Annotation = `[{"eniId":"eni-0123456789abcdef1","ifAddress":"02:ab:cd:ef:01:24","privateIp":"","ipv6Addr":"2600:1f14:abc:de00:1234:5678:9abc:7","vlanId":4,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14:abc:de00::/64","associationID":"trunk-assoc-0123456789abcdef1"}]`

var goodV6Branch = podeni.BranchENI{
	ID:            "eni-0123456789abcdef1",
	MAC:           podeni.MAC{0x02, 0xab, 0xcd, 0xef, 0x01, 0x24},
	IPv6:          netip.MustParseAddr("2600:1f14:abc:de00:1234:5678:9abc:7"),
	VLANID:        4,
	SubnetCIDR:    netip.MustParsePrefix("10.0.0.0/19"),
	SubnetV6CIDR:  netip.MustParsePrefix("2600:1f14:abc:de00::/64"),
	AssociationID: "trunk-assoc-0123456789abcdef1",
}

var goodBranch = podeni.BranchENI{
	ID:            "eni-0123456789abcdef0",
	MAC:           podeni.MAC{0x02, 0xab, 0xcd, 0xef, 0x01, 0x23},
	PrivateIP:     netip.MustParseAddr("10.0.1.7"),
	VLANID:        3,
	SubnetCIDR:    netip.MustParsePrefix("10.0.0.0/19"),
	AssociationID: "trunk-assoc-0123456789abcdef0",
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      []podeni.BranchENI
		wantField string // "" means success
	}{
		{name: "production shape", in: goodAnnotation, want: []podeni.BranchENI{goodBranch}},
		{name: "CNI spelling vlanID", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","vlanID":3,"subnetCidr":"10.0.0.0/19","associationID":"trunk-assoc-0123456789abcdef0"}]`, want: []podeni.BranchENI{goodBranch}},
		{name: "uppercase MAC, short ENI ID, IPv6", in: `[{"eniId":"eni-0a1b2c3d","ifAddress":"02:AB:CD:EF:01:23","privateIp":"10.0.1.7","ipv6Addr":"2600:1f14::7","vlanId":120,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14::/64"}]`,
			want: []podeni.BranchENI{{ID: "eni-0a1b2c3d", MAC: goodBranch.MAC, PrivateIP: goodBranch.PrivateIP, IPv6: netip.MustParseAddr("2600:1f14::7"), VLANID: 120, SubnetCIDR: goodBranch.SubnetCIDR, SubnetV6CIDR: netip.MustParsePrefix("2600:1f14::/64")}}},
		{name: "IPv6 only, production shape", in: goodV6Annotation, want: []podeni.BranchENI{goodV6Branch}},
		{name: "IPv6 only, no IPv4 subnet", in: `[{"eniId":"eni-0a1b2c3d","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":5,"subnetCidr":"","subnetV6Cidr":"2600:1f14::/64"}]`,
			want: []podeni.BranchENI{{ID: "eni-0a1b2c3d", MAC: goodBranch.MAC, IPv6: netip.MustParseAddr("2600:1f14::7"), VLANID: 5, SubnetV6CIDR: netip.MustParsePrefix("2600:1f14::/64")}}},
		{name: "dual stack without the IPv6 CIDR", in: `[{"eniId":"eni-0a1b2c3d","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","ipv6Addr":"2600:1f14::7","vlanId":5,"subnetCidr":"10.0.0.0/19"}]`,
			want: []podeni.BranchENI{{ID: "eni-0a1b2c3d", MAC: goodBranch.MAC, PrivateIP: goodBranch.PrivateIP, IPv6: netip.MustParseAddr("2600:1f14::7"), VLANID: 5, SubnetCIDR: goodBranch.SubnetCIDR}}},
		{name: "no address at all", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14::/64"}]`, wantField: "[0].privateIp"},
		{name: "IPv6 only without its CIDR", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":""}]`, wantField: "[0].subnetV6Cidr"},
		{name: "IPv6 outside its subnet", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f15::7","vlanId":3,"subnetV6Cidr":"2600:1f14::/64"}]`, wantField: "[0].ipv6Addr"},
		{name: "IPv4 in ipv6Addr", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"10.0.1.7","vlanId":3,"subnetV6Cidr":"2600:1f14::/64"}]`, wantField: "[0].ipv6Addr"},
		{name: "IPv4-mapped ipv6Addr", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","ipv6Addr":"::ffff:10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].ipv6Addr"},
		{name: "zoned ipv6Addr", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"fe80::7%eth0","vlanId":3,"subnetV6Cidr":"fe80::/64"}]`, wantField: "[0].ipv6Addr"},
		{name: "IPv6 in privateIp", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"2600:1f14::7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, wantField: "[0].privateIp"},
		{name: "IPv4 subnetV6Cidr", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":3,"subnetV6Cidr":"10.0.0.0/19"}]`, wantField: "[0].subnetV6Cidr"},
		{name: "IPv6 subnetCidr", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":3,"subnetCidr":"2600:1f14::/64","subnetV6Cidr":"2600:1f14::/64"}]`, wantField: "[0].subnetCidr"},
		{name: "bad subnetV6Cidr", in: `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":3,"subnetV6Cidr":"2600:1f14::/129"}]`, wantField: "[0].subnetV6Cidr"},
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
			got, err := podeni.Parse(tt.in)
			if tt.wantField != "" {
				require.ErrorIs(t, err, podeni.ErrInvalid)
				var ae *podeni.Error
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tt.wantField, ae.Field, err.Error())
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })))
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	// Byte for byte what the controller writes (json.Marshal of its struct,
	// fields in the same order), for an IPv4 and an IPv6-only branch ENI.
	for _, tt := range []struct {
		name string
		b    podeni.BranchENI
		want string
	}{{"IPv4", goodBranch, goodAnnotation}, {"IPv6 only", goodV6Branch, goodV6Annotation}} {
		out, err := podeni.Format(tt.b)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, out, tt.name)
		back, err := podeni.Parse(out)
		require.NoError(t, err, tt.name)
		require.Equal(t, []podeni.BranchENI{tt.b}, back, tt.name)
	}
	out, err := podeni.Format(goodBranch, goodV6Branch)
	require.NoError(t, err)
	require.Equal(t, goodAnnotation[:len(goodAnnotation)-1]+","+goodV6Annotation[1:], out)

	_, err = podeni.Format()
	require.ErrorIs(t, err, podeni.ErrInvalid)
	bad := goodBranch
	bad.VLANID = 0
	_, err = podeni.Format(bad)
	require.ErrorContains(t, err, "[0].vlanId")

	var b podeni.BranchENI
	require.NoError(t, json.Unmarshal([]byte(goodAnnotation[1:len(goodAnnotation)-1]), &b))
	require.Equal(t, goodBranch, b)
	require.Equal(t, netip.MustParseAddr("10.0.0.1"), b.Gateway())
}

func TestMAC(t *testing.T) {
	m, err := podeni.ParseMAC("02:AB:cd:ef:01:23")
	require.NoError(t, err)
	require.Equal(t, "02:ab:cd:ef:01:23", m.String())
	for _, bad := range []string{"", "02:ab:cd:ef:01", "02:ab:cd:ef:01:2g", "02:ab:cd:ef:01:23:45", "02.ab.cd.ef.01.23"} {
		_, err := podeni.ParseMAC(bad)
		require.Error(t, err, bad)
	}
}

// controllerENI mirrors the JSON tags of the production controller's
// ENIDetails, in its field order: encoding/json writes what the controller
// writes.
type controllerENI struct {
	ID            string `json:"eniId"`
	MACAdd        string `json:"ifAddress"`
	IPV4Addr      string `json:"privateIp"`
	IPV6Addr      string `json:"ipv6Addr"`
	VlanID        int    `json:"vlanId"`
	SubnetCIDR    string `json:"subnetCidr"`
	SubnetV6CIDR  string `json:"subnetV6Cidr"`
	AssociationID string `json:"associationID"`
}

// FuzzParse checks that the parser never panics, that whatever it accepts
// formats back to a value that parses to the same ENIs, and that the
// formatted bytes are those the controller's encoder writes for the same
// values.
func FuzzParse(f *testing.F) {
	f.Add(goodAnnotation)
	f.Add(`[{"eniId":"eni-0a1b2c3d","ifAddress":"02:AB:CD:EF:01:23","privateIp":"10.0.1.7","ipv6Addr":"2600:1f14::7","vlanID":120,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14::/64"}]`)
	f.Add(goodV6Annotation)
	f.Add(`[{"eniId":"eni-0a1b2c3d","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":5,"subnetV6Cidr":"2600:1f14::/64"}]`)
	f.Add(`[{"eniId":"eni-0a1b2c3d","ifAddress":"02:ab:cd:ef:01:23","privateIp":"","ipv6Addr":"::ffff:10.0.0.1","vlanId":5,"subnetV6Cidr":"::ffff:10.0.0.0/120"}]`)
	f.Add(`[]`)
	f.Add(`[{}]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := podeni.Parse(s)
		if err != nil {
			require.ErrorIs(t, err, podeni.ErrInvalid)
			return
		}
		out, err := podeni.Format(got...)
		require.NoError(t, err)
		again, err := podeni.Parse(out)
		require.NoError(t, err)
		require.Equal(t, got, again)
		var ctl []controllerENI
		require.NoError(t, json.Unmarshal([]byte(out), &ctl))
		asController, err := json.Marshal(ctl)
		require.NoError(t, err)
		require.Equal(t, string(asController), out)
	})
}

func TestValidENIID(t *testing.T) {
	for id, want := range map[string]bool{
		"eni-0123456789abcdef0": true,
		"eni-0a1b2c3d":          true,
		"eni-0123456789ABCDEF0": false,
		"eni-0123456":           false,
		"sg-0123456789abcdef0":  false,
		"":                      false,
	} {
		require.Equal(t, want, podeni.ValidENIID(id), id)
	}
}

func TestErrorNamesFieldValueAndFix(t *testing.T) {
	_, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.9.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`)
	require.ErrorIs(t, err, podeni.ErrInvalid)
	require.EqualError(t, err, `pod-eni annotation: [0].privateIp "10.9.1.7": the address is outside subnetCidr 10.0.0.0/19`)

	long := `[` + strings.Repeat(" ", 200) + `x`
	_, err = podeni.Parse(long)
	var pe *podeni.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "(value)", pe.Field)
	require.LessOrEqual(t, len(pe.Value), 82, "the value is truncated in the message")
}
