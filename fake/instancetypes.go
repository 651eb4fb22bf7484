package fake

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/limits"
)

func renderInstanceType(l limits.Limits) types.InstanceTypeInfo {
	hv := types.InstanceTypeHypervisor(l.Hypervisor)
	cards := make([]types.NetworkCardInfo, 0, len(l.NetworkCards))
	for _, c := range l.NetworkCards {
		cards = append(cards, types.NetworkCardInfo{
			NetworkCardIndex:         aws.Int32(int32(c.Index)),
			MaximumNetworkInterfaces: aws.Int32(int32(c.MaxENIs)),
		})
	}
	out := types.InstanceTypeInfo{
		InstanceType:      types.InstanceType(l.InstanceType),
		BareMetal:         aws.Bool(l.BareMetal),
		Hypervisor:        hv,
		CurrentGeneration: aws.Bool(true),
		NetworkInfo: &types.NetworkInfo{
			MaximumNetworkInterfaces:  aws.Int32(int32(l.MaxENIs)),
			Ipv4AddressesPerInterface: aws.Int32(int32(l.IPv4PerENI)),
			MaximumNetworkCards:       aws.Int32(int32(len(l.NetworkCards))),
			DefaultNetworkCardIndex:   aws.Int32(int32(l.DefaultNetworkCard)),
			NetworkCards:              cards,
			Ipv6Supported:             aws.Bool(l.Hypervisor == "nitro" || l.BareMetal),
			EnaSupport:                types.EnaSupportSupported,
		},
		ProcessorInfo: &types.ProcessorInfo{SupportedArchitectures: []types.ArchitectureType{types.ArchitectureType(architecture(l.InstanceType))}},
	}
	if l.Hypervisor == "xen" {
		out.NetworkInfo.EnaSupport = types.EnaSupportUnsupported
	}
	return out
}

// instanceTypeFilters are the filters of DescribeInstanceTypes the fake
// models, answered from the limits table as renderInstanceType renders it.
var instanceTypeFilters = newFilterTable(ActionDescribeInstanceTypes, map[string]filterField[limits.Limits]{
	"instance-type":      func(_ *EC2, l limits.Limits) []string { return one(l.InstanceType) },
	"hypervisor":         func(_ *EC2, l limits.Limits) []string { return one(l.Hypervisor) },
	"bare-metal":         func(_ *EC2, l limits.Limits) []string { return one(strconv.FormatBool(l.BareMetal)) },
	"current-generation": func(_ *EC2, _ limits.Limits) []string { return one("true") },
	"network-info.maximum-network-interfaces": func(_ *EC2, l limits.Limits) []string {
		return one(strconv.Itoa(l.MaxENIs))
	},
	"network-info.ipv4-addresses-per-interface": func(_ *EC2, l limits.Limits) []string {
		return one(strconv.Itoa(l.IPv4PerENI))
	},
	"network-info.maximum-network-cards": func(_ *EC2, l limits.Limits) []string {
		return one(strconv.Itoa(len(l.NetworkCards)))
	},
	"network-info.ipv6-supported": func(_ *EC2, l limits.Limits) []string {
		return one(strconv.FormatBool(aws.ToBool(renderInstanceType(l).NetworkInfo.Ipv6Supported)))
	},
	"network-info.ena-support": func(_ *EC2, l limits.Limits) []string {
		return one(string(renderInstanceType(l).NetworkInfo.EnaSupport))
	},
	"processor-info.supported-architecture": func(_ *EC2, l limits.Limits) []string {
		return one(string(architecture(l.InstanceType)))
	},
})

// DescribeInstanceTypes describes instance types from the fake's limits
// table: ENI and IPv4 counts, network cards, hypervisor and bare-metal flag.
// Like EC2 it says nothing of branch interfaces. Unknown types give
// InvalidInstanceType. Filters: instance-type, hypervisor, bare-metal,
// current-generation, network-info.{maximum-network-interfaces,
// ipv4-addresses-per-interface, maximum-network-cards, ipv6-supported,
// ena-support}, processor-info.supported-architecture. MaxResults is
// 5..100.
func (f *EC2) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.InstanceTypes), in.MaxResults)
	return call(ctx, f, ActionDescribeInstanceTypes, in, narrowed, func(in *ec2.DescribeInstanceTypesInput) (*ec2.DescribeInstanceTypesOutput, error) {
		if err := pages[ActionDescribeInstanceTypes].check(in.MaxResults, false); err != nil {
			return nil, err
		}
		fs, err := instanceTypeFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		var names []string
		if len(in.InstanceTypes) > 0 {
			var unknown []string
			for _, t := range in.InstanceTypes {
				l, err := f.limits.Lookup(string(t))
				if err != nil {
					unknown = append(unknown, string(t))
					continue
				}
				if fs.match(f, l, nil) {
					names = append(names, l.InstanceType)
				}
			}
			if len(unknown) > 0 {
				return nil, apiError(CodeInvalidInstanceType, "The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", "))
			}
			names = dedupe(names)
			slices.Sort(names)
		} else {
			for _, l := range f.limits.All() {
				if fs.match(f, l, nil) {
					names = append(names, l.InstanceType)
				}
			}
		}
		names, next, err := pages[ActionDescribeInstanceTypes].paginate(names, in.MaxResults, in.NextToken, false)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeInstanceTypesOutput{NextToken: next, InstanceTypes: make([]types.InstanceTypeInfo, 0, len(names))}
		for _, n := range names {
			l, _ := f.limits.Lookup(n)
			out.InstanceTypes = append(out.InstanceTypes, renderInstanceType(l))
		}
		return out, nil
	})
}
