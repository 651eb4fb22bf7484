package ec2limits_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/limits"
	"github.com/podsg/podsg/limits/ec2limits"
)

// describer is a paginating stand-in for EC2's DescribeInstanceTypes.
type describer struct {
	infos    []types.InstanceTypeInfo
	maxPage  int // the most types one page returns, whatever MaxResults says
	failCall int // 1-based call that fails with failErr; 0 for none
	failErr  error

	mu    sync.Mutex
	calls []ec2.DescribeInstanceTypesInput
}

func (d *describer) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, *in)
	if len(d.calls) == d.failCall {
		return nil, d.failErr
	}

	infos := d.infos
	if len(in.InstanceTypes) > 0 {
		infos = nil
		for _, want := range in.InstanceTypes {
			i := slices.IndexFunc(d.infos, func(info types.InstanceTypeInfo) bool { return info.InstanceType == want })
			if i < 0 {
				return nil, &smithy.GenericAPIError{Code: "InvalidInstanceType", Message: fmt.Sprintf("The following supplied instance types do not exist: [%s]", want)}
			}
			infos = append(infos, d.infos[i])
		}
	}
	start := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, "page-from-"))
		if err != nil || n <= 0 || n > len(infos) {
			return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "bad NextToken " + *in.NextToken}
		}
		start = n
	}
	size := d.maxPage
	if in.MaxResults != nil && int(*in.MaxResults) < size {
		size = int(*in.MaxResults)
	}
	end := min(start+size, len(infos))
	out := &ec2.DescribeInstanceTypesOutput{InstanceTypes: infos[start:end]}
	if end < len(infos) {
		out.NextToken = aws.String("page-from-" + strconv.Itoa(end))
	}
	return out, nil
}

// info builds a DescribeInstanceTypes entry; cards are index:maxENIs pairs.
func info(name string, enis, ipv4 int32, hypervisor types.InstanceTypeHypervisor, metal bool, cards ...[2]int32) types.InstanceTypeInfo {
	n := &types.NetworkInfo{
		MaximumNetworkInterfaces:  aws.Int32(enis),
		Ipv4AddressesPerInterface: aws.Int32(ipv4),
		DefaultNetworkCardIndex:   aws.Int32(0),
		MaximumNetworkCards:       aws.Int32(int32(len(cards))),
	}
	for _, c := range cards {
		n.NetworkCards = append(n.NetworkCards, types.NetworkCardInfo{
			NetworkCardIndex: aws.Int32(c[0]), MaximumNetworkInterfaces: aws.Int32(c[1]),
		})
	}
	return types.InstanceTypeInfo{
		InstanceType: types.InstanceType(name), Hypervisor: hypervisor, BareMetal: aws.Bool(metal), NetworkInfo: n,
	}
}

func TestFromInstanceTypeInfo(t *testing.T) {
	noCards := info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false)
	noCards.NetworkInfo.DefaultNetworkCardIndex = nil
	noCards.BareMetal = nil
	nilIndex := info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3})
	nilIndex.NetworkInfo.NetworkCards[0].NetworkCardIndex = nil
	nilCardENIs := info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3})
	nilCardENIs.NetworkInfo.NetworkCards[0].MaximumNetworkInterfaces = nil
	noENIs := info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false)
	noENIs.NetworkInfo.MaximumNetworkInterfaces = nil
	noIPv4 := info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false)
	noIPv4.NetworkInfo.Ipv4AddressesPerInterface = nil
	defaultCard1 := info("p9.48xlarge", 4, 50, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 2}, [2]int32{1, 2})
	defaultCard1.NetworkInfo.DefaultNetworkCardIndex = aws.Int32(1)

	tests := []struct {
		name    string
		in      types.InstanceTypeInfo
		want    limits.Limits
		wantErr error
		errText string
	}{
		{name: "nitro", in: info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3}),
			want: limits.Limits{InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10,
				NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro"}},
		{name: "multi-card, default card 1", in: defaultCard1,
			want: limits.Limits{InstanceType: "p9.48xlarge", MaxENIs: 4, IPv4PerENI: 50, DefaultNetworkCard: 1,
				NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 2}, {Index: 1, MaxENIs: 2}}, Hypervisor: "nitro"}},
		{name: "bare metal", in: info("m9.metal", 15, 50, "", true, [2]int32{0, 15}),
			want: limits.Limits{InstanceType: "m9.metal", MaxENIs: 15, IPv4PerENI: 50,
				NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 15}}, BareMetal: true}},
		{name: "xen", in: info("c9.large", 3, 10, types.InstanceTypeHypervisorXen, false, [2]int32{0, 3}),
			want: limits.Limits{InstanceType: "c9.large", MaxENIs: 3, IPv4PerENI: 10,
				NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "xen"}},
		{name: "no cards listed", in: noCards,
			want: limits.Limits{InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10,
				NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro"}},

		{name: "no type", in: types.InstanceTypeInfo{NetworkInfo: noCards.NetworkInfo}, wantErr: ec2limits.ErrIncompleteInfo, errText: "no InstanceType"},
		{name: "no network info", in: types.InstanceTypeInfo{InstanceType: "m9.large"}, wantErr: ec2limits.ErrIncompleteInfo, errText: `"m9.large": DescribeInstanceTypes gave no NetworkInfo;`},
		{name: "no ENI count", in: noENIs, wantErr: ec2limits.ErrIncompleteInfo, errText: "NetworkInfo.MaximumNetworkInterfaces"},
		{name: "no IPv4 count", in: noIPv4, wantErr: ec2limits.ErrIncompleteInfo, errText: "NetworkInfo.Ipv4AddressesPerInterface"},
		{name: "card without index", in: nilIndex, wantErr: ec2limits.ErrIncompleteInfo, errText: "NetworkCards[0].NetworkCardIndex"},
		{name: "card without ENIs", in: nilCardENIs, wantErr: ec2limits.ErrIncompleteInfo, errText: "NetworkCards[0].MaximumNetworkInterfaces"},
		{name: "cards do not add up", in: info("m9.large", 4, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3}),
			wantErr: limits.ErrInvalidLimits, errText: "add up to 3, but maxENIs is 4"},
		{name: "no addresses", in: info("m9.large", 3, 0, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3}),
			wantErr: limits.ErrInvalidLimits, errText: "ipv4PerENI = 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ec2limits.FromInstanceTypeInfo(tt.in)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.errText)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
}

// region is what the fake describes: two known types, three new ones, one
// new type EC2 describes badly.
func region() []types.InstanceTypeInfo {
	broken := info("z9.large", 3, 10, types.InstanceTypeHypervisorNitro, false)
	broken.NetworkInfo = nil
	return []types.InstanceTypeInfo{
		info("m5.large", 3, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3}),
		info("m9.large", 3, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 3}),
		broken,
		info("m9.metal", 30, 50, "", true, [2]int32{0, 15}, [2]int32{1, 15}),
		info("c4.large", 4, 10, types.InstanceTypeHypervisorXen, false, [2]int32{0, 4}), // EC2 disagrees with the table
		info("x9.large", 2, 4, types.InstanceTypeHypervisorXen, false, [2]int32{0, 2}),
	}
}

func lookup(t *testing.T, table *limits.Table, name string) limits.Limits {
	t.Helper()
	l, err := table.Lookup(name)
	require.NoError(t, err)
	return l
}

func TestRefreshPaginates(t *testing.T) {
	d := &describer{infos: region(), maxPage: 100}
	var logs bytes.Buffer
	table, err := ec2limits.Refresh(t.Context(), d, ec2limits.Options{
		PageSize: 5,
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)

	// Two pages of at most five types.
	require.Len(t, d.calls, 2)
	require.Equal(t, int32(5), *d.calls[0].MaxResults)
	require.Nil(t, d.calls[0].NextToken)
	require.Equal(t, "page-from-5", *d.calls[1].NextToken)

	require.Equal(t, limits.Default().Len()+3, table.Len(), "m9.large, m9.metal and x9.large are added")
	m9 := lookup(t, table, "m9.large")
	require.False(t, m9.TrunkingCompatible, "branch count unknown")
	require.Zero(t, m9.MaxBranchENIs)
	require.Equal(t, 29, limits.MaxPods(m9))
	metal := lookup(t, table, "m9.metal")
	require.True(t, metal.BareMetal)
	require.Len(t, metal.NetworkCards, 2)

	// Known rows are the built-in ones, whatever EC2 says.
	require.Empty(t, cmp.Diff(lookup(t, limits.Default(), "m5.large"), lookup(t, table, "m5.large")))
	require.Empty(t, cmp.Diff(lookup(t, limits.Default(), "c4.large"), lookup(t, table, "c4.large")))

	// The badly described type is left out, with a warning.
	_, err = table.Lookup("z9.large")
	require.ErrorIs(t, err, limits.ErrUnknownInstanceType)
	require.Contains(t, logs.String(), `level=WARN msg="instance type left out of the refreshed table" instanceType=z9.large`)
	require.Contains(t, logs.String(), "added=3 updated=0 skipped=1")

	// The built-in table is untouched.
	_, err = limits.Lookup("m9.large")
	require.ErrorIs(t, err, limits.ErrUnknownInstanceType)
}

func TestRefreshServerPageSize(t *testing.T) {
	// A server that returns fewer types than asked is followed to the end.
	d := &describer{infos: region(), maxPage: 2}
	table, err := ec2limits.Refresh(t.Context(), d, ec2limits.Options{})
	require.NoError(t, err)
	require.Len(t, d.calls, 3)
	require.Equal(t, int32(100), *d.calls[0].MaxResults)
	require.Equal(t, limits.Default().Len()+3, table.Len())
}

func TestRefreshOptions(t *testing.T) {
	t.Run("branch counts for new and known types", func(t *testing.T) {
		d := &describer{infos: region(), maxPage: 100}
		table, err := ec2limits.Refresh(t.Context(), d, ec2limits.Options{
			BranchENIs: map[string]int{"m9.large": 9, "m5.large": 4, "m5.xlarge": 0},
		})
		require.NoError(t, err)
		m9 := lookup(t, table, "m9.large")
		require.True(t, m9.TrunkingCompatible)
		require.Equal(t, 9, m9.MaxBranchENIs)
		require.Equal(t, 4, lookup(t, table, "m5.large").MaxBranchENIs)
		m5x := lookup(t, table, "m5.xlarge") // not described, but in the base
		require.False(t, m5x.TrunkingCompatible)
		require.Zero(t, m5x.MaxBranchENIs)
		require.Equal(t, 18, lookup(t, limits.Default(), "m5.xlarge").MaxBranchENIs)
	})
	t.Run("update known types", func(t *testing.T) {
		d := &describer{infos: region(), maxPage: 100}
		table, err := ec2limits.Refresh(t.Context(), d, ec2limits.Options{UpdateKnown: true})
		require.NoError(t, err)
		c4 := lookup(t, table, "c4.large")
		require.Equal(t, 4, c4.MaxENIs, "EC2's figure")
		require.False(t, c4.TrunkingCompatible)
		m5 := lookup(t, table, "m5.large")
		require.Equal(t, 9, m5.MaxBranchENIs, "branch count kept from the base")
		require.True(t, m5.TrunkingCompatible)
	})
	t.Run("update known types keeps the base row when EC2's figures cannot host its trunk", func(t *testing.T) {
		infos := []types.InstanceTypeInfo{info("m5.large", 1, 10, types.InstanceTypeHypervisorNitro, false, [2]int32{0, 1})}
		var logs bytes.Buffer
		table, err := ec2limits.Refresh(t.Context(), &describer{infos: infos, maxPage: 100}, ec2limits.Options{
			UpdateKnown: true,
			Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
		})
		require.NoError(t, err)
		require.Equal(t, 3, lookup(t, table, "m5.large").MaxENIs)
		require.Contains(t, logs.String(), "keeping the base row")
	})
	t.Run("base table", func(t *testing.T) {
		base, err := limits.WithOverrides(limits.Limits{
			InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10, TrunkingCompatible: true, MaxBranchENIs: 9,
			NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro",
		})
		require.NoError(t, err)
		table, err := ec2limits.Refresh(t.Context(), &describer{infos: region(), maxPage: 100}, ec2limits.Options{Base: base})
		require.NoError(t, err)
		require.Equal(t, 9, lookup(t, table, "m9.large").MaxBranchENIs, "the base's override wins over EC2")
		require.Equal(t, base.Len()+2, table.Len())
	})
	t.Run("instance types filter", func(t *testing.T) {
		d := &describer{infos: region(), maxPage: 100}
		table, err := ec2limits.Refresh(t.Context(), d, ec2limits.Options{InstanceTypes: []string{"m9.large", "m5.large"}})
		require.NoError(t, err)
		require.Equal(t, []types.InstanceType{"m9.large", "m5.large"}, d.calls[0].InstanceTypes)
		require.Equal(t, limits.Default().Len()+1, table.Len())

		_, err = ec2limits.Refresh(t.Context(), d, ec2limits.Options{InstanceTypes: []string{"nope.large"}})
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, "InvalidInstanceType", apiErr.ErrorCode())
	})
	t.Run("fail on skipped", func(t *testing.T) {
		table, err := ec2limits.Refresh(t.Context(), &describer{infos: region(), maxPage: 100}, ec2limits.Options{FailOnSkipped: true})
		require.Nil(t, table)
		require.ErrorIs(t, err, ec2limits.ErrIncompleteInfo)
		require.ErrorContains(t, err, `1 described instance types could not be converted`)
		require.ErrorContains(t, err, `"z9.large"`)
	})
}

func TestRefreshOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts ec2limits.Options
		want []string
	}{
		{"page size too small", ec2limits.Options{PageSize: 4}, []string{"Options.PageSize = 4: EC2 accepts 5 to 100"}},
		{"page size too large", ec2limits.Options{PageSize: 101}, []string{"Options.PageSize = 101"}},
		{"negative branch count", ec2limits.Options{BranchENIs: map[string]int{"m9.large": -1, "m9.xlarge": 121}},
			[]string{`Options.BranchENIs["m9.large"] = -1: use 0`, `Options.BranchENIs["m9.xlarge"] = 121`}},
		{"branch count for an unknown type", ec2limits.Options{BranchENIs: map[string]int{"m9.lrage": 9}},
			[]string{`Options.BranchENIs names "m9.lrage"`}},
		{"branch count on a xen type", ec2limits.Options{BranchENIs: map[string]int{"x9.large": 4}},
			[]string{"Options.BranchENIs", "x9.large", "trunkingCompatible = true: Xen types cannot host a trunk ENI"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := ec2limits.Refresh(t.Context(), &describer{infos: region(), maxPage: 100}, tt.opts)
			require.Nil(t, table)
			require.ErrorIs(t, err, ec2limits.ErrInvalidOptions)
			for _, want := range tt.want {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestRefreshFailures(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	d := &describer{infos: region(), maxPage: 2, failCall: 2, failErr: throttled}
	table, err := ec2limits.Refresh(t.Context(), d, ec2limits.Options{})
	require.Nil(t, table)
	require.ErrorIs(t, err, throttled)
	require.ErrorContains(t, err, "DescribeInstanceTypes, page 2")
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "RequestLimitExceeded", apiErr.ErrorCode())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d = &describer{infos: region(), maxPage: 2}
	_, err = ec2limits.Refresh(ctx, d, ec2limits.Options{})
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, d.calls)
}

func TestRefreshRepeatedTypes(t *testing.T) {
	infos := region()
	infos = append(infos, infos[1]) // m9.large again on a later page
	table, err := ec2limits.Refresh(t.Context(), &describer{infos: infos, maxPage: 2}, ec2limits.Options{})
	require.NoError(t, err)
	require.Equal(t, limits.Default().Len()+3, table.Len())
}

func TestRefreshConcurrent(t *testing.T) {
	d := &describer{infos: region(), maxPage: 2}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = ec2limits.Refresh(t.Context(), d, ec2limits.Options{})
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Len(t, d.calls, 4*3)
}
