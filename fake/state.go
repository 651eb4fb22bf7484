package fake

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/limits"
)

// state is everything the fake knows. It is guarded by EC2.mu.
type state struct {
	vpcs      map[string]*vpc
	subnets   map[string]*subnet
	groups    map[string]*secGroup
	rules     map[string]*sgRule
	enis      map[string]*netIface
	instances map[string]*instance
	assocs    map[string]*trunkAssoc
	attach    map[string]string // attachment ID → ENI ID

	// eniOrder caches the ENI IDs in order for listings; nil when an ENI
	// was added or removed since.
	eniOrder []string

	// Resources deleted, or associations undone, whose change has not
	// propagated yet (Consistency.Delete and Detach): Describe calls still
	// show them until their meta.goneAt; every other call knows they are
	// gone.
	goneENIs    map[string]*netIface
	goneGroups  map[string]*secGroup
	goneRules   map[string]*sgRule
	goneSubnets map[string]*subnet
	goneVPCs    map[string]*vpc
	goneAssocs  map[string]*trunkAssoc
}

func (s *state) init() {
	s.vpcs = make(map[string]*vpc)
	s.subnets = make(map[string]*subnet)
	s.groups = make(map[string]*secGroup)
	s.rules = make(map[string]*sgRule)
	s.enis = make(map[string]*netIface)
	s.instances = make(map[string]*instance)
	s.assocs = make(map[string]*trunkAssoc)
	s.attach = make(map[string]string)
	s.goneENIs = make(map[string]*netIface)
	s.goneGroups = make(map[string]*secGroup)
	s.goneRules = make(map[string]*sgRule)
	s.goneSubnets = make(map[string]*subnet)
	s.goneVPCs = make(map[string]*vpc)
	s.goneAssocs = make(map[string]*trunkAssoc)
}

// tags are a resource's tags. The zero value holds none.
type tags map[string]string

func (t tags) list() []types.Tag {
	if len(t) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(t))
	out := make([]types.Tag, len(keys))
	for i, k := range keys {
		out[i] = types.Tag{Key: aws.String(k), Value: aws.String(t[k])}
	}
	return out
}

// meta is what every resource has.
type meta struct {
	id        string
	tags      tags
	created   time.Time
	visibleAt time.Time // calls other than its creator's know it from then on
	goneAt    time.Time // a deleted resource: Describe calls show it until then
}

func (m *meta) visible(now time.Time) bool { return !now.Before(m.visibleAt) }

// shown reports whether Describe calls still show a deleted resource.
func (m *meta) shown(now time.Time) bool { return now.Before(m.goneAt) }

type vpc struct {
	meta
	prefix    netip.Prefix
	isDefault bool
	defaultSG string
	ipv6      []cidrAssoc // Amazon-provided IPv6 blocks, /56 each
}

// cidrAssoc is an IPv6 CIDR block associated with a VPC or a subnet.
type cidrAssoc struct {
	id     string // vpc-cidr-assoc-… or subnet-cidr-assoc-…
	prefix netip.Prefix
}

type subnet struct {
	meta
	vpcID  string
	az     string
	prefix netip.Prefix // the IPv4 CIDR; invalid in an IPv6-only subnet
	first  netip.Addr   // first assignable address (network + 4)
	last   netip.Addr   // last assignable address (broadcast − 1)
	size   int          // assignable addresses
	used   map[netip.Addr]string
	cursor netip.Addr

	// IPv6: the subnet's /64, when it has one, and its assigned addresses.
	ipv6       *cidrAssoc
	used6      map[netip.Addr]string
	ipv6Native bool // IPv6-only: no IPv4 CIDR, no IPv4 addresses
}

type secGroup struct {
	meta
	name    string
	desc    string
	vpcID   string
	ingress []string // rule IDs, in creation order
	egress  []string
}

type sgRule struct {
	meta
	groupID  string
	egress   bool
	proto    string // "tcp", "udp", "icmp", "-1" or a protocol number
	from, to int32
	cidr4    string
	cidr6    string
	refGroup string
	prefixID string
	desc     string
}

type netIface struct {
	meta
	subnetID    string
	vpcID       string
	az          string
	desc        string
	mac         string
	ip          netip.Addr // invalid in an IPv6-only subnet
	secondary   []netip.Addr
	ipv6        []netip.Addr
	ifType      types.NetworkInterfaceType
	createdType types.NetworkInterfaceType
	groups      []string
	sourceDest  bool
	att         *attachment
	assocID     string           // branch: its association
	branches    map[int32]string // trunk: VLAN → association ID
	perms       []*eniPermission // CreateNetworkInterfacePermission

	// The attachment and association undone last, which Describe calls
	// show until the change propagates (Consistency.Detach).
	prevAtt        *attachment
	prevAttUntil   time.Time
	prevAssoc      string
	prevAssocUntil time.Time
}

type attachment struct {
	id           string
	instanceID   string
	device       int32
	card         int32
	deleteOnTerm bool
	at           time.Time
	attachedAt   time.Time // "attaching" until then (Consistency.Attach)
	detaching    bool      // set on the copies Describe shows after a detach
}

type instance struct {
	meta
	typ         string
	lim         limits.Limits
	imageID     string
	subnetID    string
	vpcID       string
	az          string
	groups      []string
	state       types.InstanceStateName
	reservation string
	clientToken string
	primaryENI  string
	enis        []string  // attached ENI IDs
	runningAt   time.Time // "pending" until then (Consistency.Launch)
	terminated  time.Time // when TerminateInstances ran
	goneAt      time.Time // "shutting-down" until then (Consistency.Delete)
}

type trunkAssoc struct {
	meta
	trunkID  string
	branchID string
	vlan     int32
	proto    types.InterfaceProtocolType
}

// withGone returns the sorted IDs of live plus those of the deleted
// resources in gone that Describe calls still show at now. It forgets, from
// gone, those no longer shown.
func withGone[V any](live []string, gone map[string]V, metaOf func(V) *meta, now time.Time) []string {
	if len(gone) == 0 {
		return live
	}
	out := slices.Clone(live)
	for id, v := range gone {
		if metaOf(v).shown(now) {
			out = append(out, id)
		} else {
			delete(gone, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sortedENIIDs returns the IDs of every ENI in order. The slice is shared:
// callers must not modify it.
func (s *state) sortedENIIDs() []string {
	if s.eniOrder == nil {
		s.eniOrder = sortedIDs(s.enis)
	}
	return s.eniOrder
}

func sortedIDs[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
