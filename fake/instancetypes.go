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

func instanceTypeField(l limits.Limits) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-type":
			return []string{l.InstanceType}, true
		case "hypervisor":
			return []string{l.Hypervisor}, true
		case "bare-metal":
			return []string{strconv.FormatBool(l.BareMetal)}, true
		case "current-generation":
			return []string{"true"}, true
		case "network-info.maximum-network-interfaces":
			return []string{strconv.Itoa(l.MaxENIs)}, true
		case "network-info.ipv4-addresses-per-interface":
			return []string{strconv.Itoa(l.IPv4PerENI)}, true
		case "network-info.maximum-network-cards":
			return []string{strconv.Itoa(len(l.NetworkCards))}, true
		case "processor-info.supported-architecture":
			return []string{string(architecture(l.InstanceType))}, true
		}
		return nil, false
	}
}

// DescribeInstanceTypes describes instance types from the fake's limits
// table: ENI and IPv4 counts, network cards, hypervisor and bare-metal flag.
// Like EC2 it says nothing of branch interfaces. Unknown types give
// InvalidInstanceType. Filters: instance-type, hypervisor, bare-metal,
// current-generation, network-info.{maximum-network-interfaces,
// ipv4-addresses-per-interface, maximum-network-cards},
// processor-info.supported-architecture. MaxResults is 5..100.
func (f *EC2) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.InstanceTypes), in.MaxResults)
	return call(ctx, f, ActionDescribeInstanceTypes, in, narrowed, func(in *ec2.DescribeInstanceTypesInput) (*ec2.DescribeInstanceTypesOutput, error) {
		if err := checkFilters(in.Filters, instanceTypeField(limits.Limits{})); err != nil {
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
				if matchFilters(in.Filters, nil, instanceTypeField(l)) {
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
				if matchFilters(in.Filters, nil, instanceTypeField(l)) {
					names = append(names, l.InstanceType)
				}
			}
		}
		names, next, err := page{min: 5, max: 100}.paginate(names, in.MaxResults, in.NextToken, false)
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
