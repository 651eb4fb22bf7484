package ec2limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/limits"
)

// DescribeInstanceTypesAPI is the one EC2 operation this package calls, with
// the SDK's exact signature. *ec2.Client satisfies it.
type DescribeInstanceTypesAPI interface {
	DescribeInstanceTypes(ctx context.Context, params *ec2.DescribeInstanceTypesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
}

var _ DescribeInstanceTypesAPI = (*ec2.Client)(nil)

// ErrIncompleteInfo is matched (errors.Is) by the error FromInstanceTypeInfo
// returns when DescribeInstanceTypes left out a figure Limits needs.
var ErrIncompleteInfo = errors.New("instance type info lacks networking figures")

// ErrInvalidOptions is matched (errors.Is) by the errors Refresh returns for
// bad Options; the message names the field, its value and what to do.
var ErrInvalidOptions = errors.New("ec2limits: invalid options")

// FromInstanceTypeInfo converts one entry of DescribeInstanceTypes output into
// Limits:
//
//	InstanceType        ← InstanceType
//	MaxENIs             ← NetworkInfo.MaximumNetworkInterfaces
//	IPv4PerENI          ← NetworkInfo.Ipv4AddressesPerInterface
//	DefaultNetworkCard  ← NetworkInfo.DefaultNetworkCardIndex (absent: 0)
//	NetworkCards        ← NetworkInfo.NetworkCards (NetworkCardIndex,
//	                      MaximumNetworkInterfaces); when EC2 lists no cards,
//	                      one default card holding every ENI
//	Hypervisor          ← Hypervisor ("" for bare metal)
//	BareMetal           ← BareMetal (absent: false)
//	TrunkingCompatible  false, MaxBranchENIs 0: EC2 does not report branch
//	                    counts, so a type is trunking-compatible only when an
//	                    override or the built-in table says so.
//
// A missing figure gives an error matching ErrIncompleteInfo; a result that
// fails limits.Limits.Validate (cards that do not add up, for instance) gives
// the FieldErrors, matching limits.ErrInvalidLimits. Both name the type.
func FromInstanceTypeInfo(info types.InstanceTypeInfo) (limits.Limits, error) {
	l := limits.Limits{
		InstanceType: string(info.InstanceType),
		Hypervisor:   string(info.Hypervisor),
		BareMetal:    deref(info.BareMetal),
	}
	incomplete := func(field string) (limits.Limits, error) {
		return limits.Limits{}, fmt.Errorf("ec2limits: instance type %q: DescribeInstanceTypes gave no %s; "+
			"supply the type's limits as an override (limits.WithOverrides): %w", l.InstanceType, field, ErrIncompleteInfo)
	}
	if l.InstanceType == "" {
		return incomplete("InstanceType")
	}
	n := info.NetworkInfo
	if n == nil {
		return incomplete("NetworkInfo")
	}
	if n.MaximumNetworkInterfaces == nil {
		return incomplete("NetworkInfo.MaximumNetworkInterfaces")
	}
	if n.Ipv4AddressesPerInterface == nil {
		return incomplete("NetworkInfo.Ipv4AddressesPerInterface")
	}
	l.MaxENIs = int(*n.MaximumNetworkInterfaces)
	l.IPv4PerENI = int(*n.Ipv4AddressesPerInterface)
	l.DefaultNetworkCard = int(deref(n.DefaultNetworkCardIndex))
	for i, c := range n.NetworkCards {
		if c.NetworkCardIndex == nil {
			return incomplete(fmt.Sprintf("NetworkInfo.NetworkCards[%d].NetworkCardIndex", i))
		}
		if c.MaximumNetworkInterfaces == nil {
			return incomplete(fmt.Sprintf("NetworkInfo.NetworkCards[%d].MaximumNetworkInterfaces", i))
		}
		l.NetworkCards = append(l.NetworkCards, limits.NetworkCard{
			Index: int(*c.NetworkCardIndex), MaxENIs: int(*c.MaximumNetworkInterfaces),
		})
	}
	if len(l.NetworkCards) == 0 {
		l.NetworkCards = []limits.NetworkCard{{Index: l.DefaultNetworkCard, MaxENIs: l.MaxENIs}}
	}
	if err := l.Validate(); err != nil {
		return limits.Limits{}, fmt.Errorf("ec2limits: DescribeInstanceTypes figures for %q are not usable: %w", l.InstanceType, err)
	}
	return l, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Options tune Refresh. The zero Options extends limits.Default with every
// type EC2 describes in the client's region, silently. Bad options make
// Refresh fail with an error matching ErrInvalidOptions.
type Options struct {
	// Base is the table to extend. Nil means limits.Default(). Pass a table
	// that already holds file overrides to keep them.
	Base *limits.Table

	// InstanceTypes restricts the request to these types (EC2 answers
	// InvalidInstanceType for a name it does not know). Empty means every
	// type offered in the region.
	InstanceTypes []string

	// BranchENIs gives branch-ENI counts the operator knows, by instance
	// type. A positive count makes the type trunking-compatible with that many
	// branch ENIs; 0 makes it not trunking-compatible. It applies to types
	// EC2 describes and to the base table's rows alike, and beats both. Each
	// named type must end up in the table, and each count must be between 0
	// and limits.MaxBranchENIsPerTrunk, or Refresh fails.
	BranchENIs map[string]int

	// UpdateKnown takes EC2's ENI, address, card, hypervisor and bare-metal
	// figures for types the base already has, keeping the base's trunking
	// flag and branch count. False (the default) keeps base rows as they are.
	UpdateKnown bool

	// FailOnSkipped makes Refresh fail when any described type cannot be
	// converted (see FromInstanceTypeInfo). By default such types are left
	// out of the table and logged at warning level.
	FailOnSkipped bool

	// PageSize is the MaxResults of each request, 5 to 100. Zero means 100,
	// the most EC2 allows.
	PageSize int32

	// Logger receives a warning per skipped type and a summary. Nil means no
	// logging.
	Logger *slog.Logger
}

// Refresh pages through DescribeInstanceTypes and returns a new table: the
// base table plus every type EC2 describes that the base lacks, converted by
// FromInstanceTypeInfo and adjusted by the options (see Options and the
// package documentation for which source wins). The base table is not
// changed.
//
// Refresh fails, returning a nil table, when a request fails (the error
// wraps the SDK's, so errors.As finds a smithy.APIError), when ctx ends, when
// the options are invalid (ErrInvalidOptions: a PageSize or branch count
// out of range, a BranchENIs type that is neither described nor in the base,
// a branch count the type cannot host), and, with Options.FailOnSkipped,
// when a described type cannot be converted (ErrIncompleteInfo). It is safe
// to call concurrently if client is.
func Refresh(ctx context.Context, client DescribeInstanceTypesAPI, o Options) (*limits.Table, error) {
	base := o.Base
	if base == nil {
		base = limits.Default()
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pageSize := o.PageSize
	if pageSize == 0 {
		pageSize = 100
	}
	if pageSize < 5 || pageSize > 100 {
		return nil, fmt.Errorf("%w: Options.PageSize = %d: EC2 accepts 5 to 100 (0 means 100)", ErrInvalidOptions, o.PageSize)
	}
	var optErrs []error
	for _, name := range sortedKeys(o.BranchENIs) {
		if n := o.BranchENIs[name]; n < 0 || n > limits.MaxBranchENIsPerTrunk {
			optErrs = append(optErrs, fmt.Errorf("%w: Options.BranchENIs[%q] = %d: use 0 (not trunking-compatible) to %d",
				ErrInvalidOptions, name, n, limits.MaxBranchENIsPerTrunk))
		}
	}
	if len(optErrs) > 0 {
		return nil, errors.Join(optErrs...)
	}

	in := &ec2.DescribeInstanceTypesInput{MaxResults: &pageSize}
	for _, name := range o.InstanceTypes {
		in.InstanceTypes = append(in.InstanceTypes, types.InstanceType(name))
	}
	pages := ec2.NewDescribeInstanceTypesPaginator(client, in, func(po *ec2.DescribeInstanceTypesPaginatorOptions) {
		po.StopOnDuplicateToken = true
	})

	var (
		rows    []limits.Limits
		skipped []error
		seen    = map[string]bool{}
		added   int
		updated int
		page    int
	)
	applyBranches := func(l *limits.Limits) {
		if n, ok := o.BranchENIs[l.InstanceType]; ok {
			l.TrunkingCompatible, l.MaxBranchENIs = n > 0, n
		}
	}
	for pages.HasMorePages() {
		page++
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ec2limits: DescribeInstanceTypes, page %d: %w", page, err)
		}
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2limits: DescribeInstanceTypes, page %d: %w", page, err)
		}
		log.DebugContext(ctx, "described instance types", "page", page, "types", len(out.InstanceTypes))
		for _, info := range out.InstanceTypes {
			name := string(info.InstanceType)
			if seen[name] {
				continue // a type repeated across pages
			}
			seen[name] = true
			known, err := base.Lookup(name)
			isKnown := err == nil
			if isKnown && !o.UpdateKnown {
				continue // the base row stands; branch options are applied below
			}
			l, err := FromInstanceTypeInfo(info)
			if err != nil {
				skipped = append(skipped, err)
				log.WarnContext(ctx, "instance type left out of the refreshed table", "instanceType", name, "error", err)
				continue
			}
			if isKnown {
				l.TrunkingCompatible, l.MaxBranchENIs = known.TrunkingCompatible, known.MaxBranchENIs
				if err := l.Validate(); err != nil {
					skipped = append(skipped, fmt.Errorf("ec2limits: EC2's figures for %q do not fit its trunking in the base table; keeping the base row: %w", name, err))
					log.WarnContext(ctx, "keeping the base row", "instanceType", name, "error", err)
					continue
				}
				updated++
			} else {
				added++
			}
			rows = append(rows, l)
		}
	}
	if o.FailOnSkipped && len(skipped) > 0 {
		return nil, fmt.Errorf("ec2limits: %d described instance types could not be converted (FailOnSkipped is set):\n%w",
			len(skipped), errors.Join(skipped...))
	}

	// Branch counts from the options beat both EC2 and the base table.
	inRows := make(map[string]int, len(rows))
	for i := range rows {
		inRows[rows[i].InstanceType] = i
	}
	for _, name := range sortedKeys(o.BranchENIs) {
		if i, ok := inRows[name]; ok {
			applyBranches(&rows[i])
			continue
		}
		l, err := base.Lookup(name)
		if err != nil {
			optErrs = append(optErrs, fmt.Errorf("%w: Options.BranchENIs names %q, which EC2 did not describe and the base table lacks; check the name", ErrInvalidOptions, name))
			continue
		}
		l = l.Clone()
		applyBranches(&l)
		rows = append(rows, l)
	}
	if len(optErrs) > 0 {
		return nil, errors.Join(optErrs...)
	}

	table, err := base.WithOverrides(rows...)
	if err != nil {
		// Only the BranchENIs option can make a row invalid here (for
		// example, branch ENIs on a Xen type).
		return nil, fmt.Errorf("%w: Options.BranchENIs: %w", ErrInvalidOptions, err)
	}
	log.InfoContext(ctx, "refreshed instance-type limits", "pages", page, "described", len(seen),
		"added", added, "updated", updated, "skipped", len(skipped), "types", table.Len())
	return table, nil
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }
