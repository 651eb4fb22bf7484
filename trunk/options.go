package trunk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/limits"
)

// ErrInvalidOptions is matched (errors.Is) by the errors New and NewBudget
// return for settings they cannot use. The message names the field, the
// value and what to do.
var ErrInvalidOptions = errors.New("invalid options")

func invalidOptions(format string, args ...any) error {
	return fmt.Errorf("trunk: %w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}

// Options configure a Manager. Zero fields take the documented defaults.
type Options struct {
	// ClusterName names the cluster in the kubernetes.io/cluster/<name> tag
	// of every ENI the Manager creates, and scopes garbage collection.
	// Required.
	ClusterName string
	// Owner is the value of the eks:eni:owner tag (DefaultOwner when empty).
	Owner string
	// Policy governs reuse and deletion in every node's pool (eni.Policy's
	// defaults when zero).
	Policy eni.Policy
	// Budget shapes the EC2 request rate (DefaultBudget when zero).
	Budget BudgetOptions
	// Workers bounds the goroutines that run background maintenance and
	// rebuild listings, for all nodes together (default 16).
	Workers int
	// MaxInFlightStarts, when positive, bounds how many Acquire calls may
	// call EC2 at once, as a controller with a fixed number of pod workers
	// does. Zero means no bound (the budget alone paces EC2 calls).
	MaxInFlightStarts int
	// MaxAttempts bounds the attempts of one EC2 call when it fails with a
	// retryable error: throttling, a server fault or a lost response
	// (default 8).
	MaxAttempts int
	// MaxBackoff caps the SDK's exponential jitter back-off between
	// attempts (default 20 s, the SDK's own).
	MaxBackoff time.Duration
	// Limits gives the instance types' ENI and branch limits
	// (limits.Default() when nil).
	Limits *limits.Table
	// TrunkPollInterval and TrunkAttachTimeout govern the wait for a new
	// trunk's attachment (defaults 1 s and 2 min).
	TrunkPollInterval  time.Duration
	TrunkAttachTimeout time.Duration
	// RollbackTimeout bounds the clean-up after a failed branch creation,
	// which goes on even when the caller's context is cancelled
	// (default 2 min).
	RollbackTimeout time.Duration
	// GCInterval is how often Run collects garbage (default 10 min;
	// negative: never). An ENI is deleted on its second sighting, so
	// leaked ENIs go within two intervals.
	GCInterval time.Duration
	// Logger receives records of what the Manager does; nil logs nothing.
	Logger *slog.Logger
	// Rand is the source of the Manager's randomness: the 8 bytes, read
	// once, that keep its ClientTokens apart from those of every other
	// Manager, and the jitter of the back-off between retried attempts.
	// Nil means crypto/rand, which production should keep. A test that
	// replays a scenario from a seed passes a seeded source (a
	// *math/rand/v2.ChaCha8, say), so that the Manager sends the same
	// requests and waits the same back-offs on every run; two Managers on
	// the same account must never read the same seeded source, or EC2
	// would answer one Manager's request with the result of the other's.
	// Reads are serialised: the source need not be safe for concurrent use.
	Rand io.Reader
	// IPv6 says the cluster's pods are IPv6 (the VPC CNI plugin's
	// ENABLE_IPv6=true): every branch ENI is created with one IPv6 address
	// (Ipv6AddressCount 1) and its annotation carries it ("ipv6Addr", with
	// "subnetV6Cidr"; "privateIp" is the ENI's IPv4 address in a dual-stack
	// subnet and "" in an IPv6-only one), which the CNI plugin of an IPv6
	// node gives the pod. A node whose branch subnet has no IPv6 CIDR is
	// refused. Without it branch ENIs get an IPv6 address only where their
	// subnet assigns one on creation, and nodes in IPv6-only subnets are
	// refused. (The VPC resource controller asks for no address and relies
	// on the subnet assigning one on creation, which EKS asks of an IPv6
	// cluster's subnets: aws/amazon-vpc-resource-controller-k8s,
	// pkg/provider/branch/trunk/trunk.go, CreateAndAssociateBranchENIs.
	// Asking works whatever the subnet's setting.)
	IPv6 bool
	// CustomNetworking, when set, says where each node's trunk and branch
	// ENIs go and which security groups its trunk gets: the node's custom
	// networking, which the VPC CNI plugin configures with an ENIConfig.
	// The Manager asks when it sets a node up and on every EnsureNode call
	// (so that a changed ENIConfig moves the node's new branch ENIs); a
	// zero CustomNetwork means the instance's own subnet and its primary
	// ENI's groups. An error fails the set-up or EnsureNode call. It must
	// be safe for concurrent use; nil means no custom networking.
	CustomNetworking func(ctx context.Context, instanceID string) (CustomNetwork, error)

	// associateAtOnce (OnDemandOptions) associates a new branch ENI as soon
	// as it is created, as the production controller does, instead of
	// waiting until EC2 lists it: a NotFound answer is then asked again.
	associateAtOnce bool
}

// OnDemandOptions returns the production controller's strategy: no reuse
// and no warm ENIs (a new ENI per pod, deleted 60 s after its pod), a
// client-wide limiter of 24 requests/s with burst 36 (the VPC resource
// controller's since 2026; 12 and 18 before), 30 pod workers, the SDK's
// standard retryer (3 attempts), and each new ENI associated as soon as it
// is created, NotFound answers asked again. It exists to compare strategies
// on equal terms. It makes the two calls podsg needs per pod (create,
// associate), not the controller's third, CreateNetworkInterfacePermission
// (INSTANCE-ATTACH on the branch, for the EKS account it runs in), which a
// model of the production controller adds itself (TestChurn does).
func OnDemandOptions(clusterName string) Options {
	return Options{
		ClusterName:       clusterName,
		Policy:            eni.OnDemandPolicy(),
		Budget:            ClientLimiterBudget(24, 36),
		MaxInFlightStarts: 30,
		Workers:           30,
		MaxAttempts:       3,
		associateAtOnce:   true,
	}
}

// maxClusterName keeps the cluster tag's key within EC2's 128 characters.
const maxClusterName = 128 - len(ClusterTagPrefix)

// normalize checks o and fills in the defaults.
func (o Options) normalize() (Options, error) {
	switch {
	case o.ClusterName == "":
		return o, invalidOptions("Options.ClusterName is empty: want the cluster's name, used in the kubernetes.io/cluster/<name> tag")
	case len(o.ClusterName) > maxClusterName:
		return o, invalidOptions("Options.ClusterName %q is %d characters long: the tag key %s<name> allows at most %d",
			o.ClusterName, len(o.ClusterName), ClusterTagPrefix, maxClusterName)
	case len(o.Owner) > 256:
		return o, invalidOptions("Options.Owner is %d characters long: a tag value holds at most 256", len(o.Owner))
	}
	for _, d := range []struct {
		name string
		v    int64
	}{
		{"Workers", int64(o.Workers)},
		{"MaxInFlightStarts", int64(o.MaxInFlightStarts)},
		{"MaxAttempts", int64(o.MaxAttempts)},
		{"MaxBackoff", int64(o.MaxBackoff)},
		{"TrunkPollInterval", int64(o.TrunkPollInterval)},
		{"TrunkAttachTimeout", int64(o.TrunkAttachTimeout)},
		{"RollbackTimeout", int64(o.RollbackTimeout)},
	} {
		if d.v < 0 {
			return o, invalidOptions("Options.%s is negative (%d): want zero for the default, or a positive value", d.name, d.v)
		}
	}
	if o.Owner == "" {
		o.Owner = DefaultOwner
	}
	if o.Workers == 0 {
		o.Workers = 16
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 20 * time.Second
	}
	if o.Limits == nil {
		o.Limits = limits.Default()
	}
	if o.TrunkPollInterval == 0 {
		o.TrunkPollInterval = time.Second
	}
	if o.TrunkAttachTimeout == 0 {
		o.TrunkAttachTimeout = 2 * time.Minute
	}
	if o.RollbackTimeout == 0 {
		o.RollbackTimeout = 2 * time.Minute
	}
	if o.GCInterval == 0 {
		o.GCInterval = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.Policy.Validate(); err != nil {
		return o, invalidOptions("Options.Policy: %w", err)
	}
	return o, nil
}
