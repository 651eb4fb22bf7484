package eni

import (
	"fmt"
	"slices"
	"time"
)

const (
	// DefaultCoolDown is how long a released branch ENI waits before it is
	// reused or deleted, as the VPC resource controller does: long enough
	// for ARP caches that still map the pod's address to the old MAC.
	DefaultCoolDown = 60 * time.Second
	// MinCoolDown is the shortest cool-down: a shorter one is raised to it,
	// as the VPC resource controller raises a branch-eni-cooldown under 30 s
	// (GetCoolDownPeriod in pkg/provider/branch/cooldown/cooldown.go of
	// aws/amazon-vpc-resource-controller-k8s).
	MinCoolDown = 30 * time.Second
	// DefaultIdleTimeout is how long a warm branch ENI waits for a pod of its
	// security-group set before it is deleted.
	DefaultIdleTimeout = 10 * time.Minute
	// NoWarm keeps no warm ENIs when given as Policy.MaxWarm: every branch
	// ENI is deleted after its cool-down, the production controller's
	// behaviour.
	NoWarm = -1
)

// EffectiveCoolDown returns the cool-down a pool applies for d:
// DefaultCoolDown for 0, MinCoolDown for anything else under it (shorter
// cool-downs let ARP caches on the node still map a departed pod's address
// to the old ENI), d otherwise. The VPC resource controller treats its
// branch-eni-cooldown setting the same way.
func EffectiveCoolDown(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultCoolDown
	case d < MinCoolDown:
		return MinCoolDown
	}
	return d
}

// Key says which branch ENIs are interchangeable: those with the same
// security groups, in any order, in the same subnet. Key is comparable; two
// keys name the same ENIs when their Canonical forms are ==.
type Key struct {
	// Groups are the ENI's security groups; their order is the order
	// given to EC2 when an ENI is created for the key.
	Groups GroupSet
	// Subnet is the subnet ID ("subnet-…") the ENI lives in.
	Subnet string
}

// Canonical returns k with its groups in ascending order: == for any two
// keys that name the same ENIs.
func (k Key) Canonical() Key { return Key{Groups: k.Groups.Canonical(), Subnet: k.Subnet} }

// String returns "subnet-…/sg-…,sg-…", the groups in the order given.
func (k Key) String() string { return k.Subnet + "/" + k.Groups.String() }

// RetargetPolicy decides whether a warm ENI of another key may be given to a
// pod that wants key to, by changing its security groups with a single
// ModifyNetworkInterfaceAttribute call, instead of evicting it (disassociate
// + delete) and creating a new one (create + associate).
//
// A retarget keeps the ENI's address, MAC and VLAN. EC2 keeps tracking
// connections that were established under the old groups after the change,
// so for as long as those stay tracked (up to days for idle TCP) the ENI may
// still exchange packets that only the old groups allowed. Retargeting is
// therefore safe when the new set contains every group of the old one
// (RetargetSuperset, the default): nothing the old groups allowed is outside
// what the new groups allow. AlwaysRetarget trades that guarantee for speed;
// NeverRetarget is the production controller's behaviour.
//
// The pool only offers ENIs that have finished their cool-down and belong to
// the wanted subnet. A RetargetPolicy must be safe for concurrent use and
// must not block.
type RetargetPolicy func(from Branch, to Key) bool

// RetargetSuperset allows a retarget when to.Groups contains every group the
// ENI has now and the subnet is the same.
func RetargetSuperset(from Branch, to Key) bool {
	return from.Subnet == to.Subnet && to.Groups.ContainsAll(from.Groups)
}

// AlwaysRetarget allows any retarget within a subnet. See RetargetPolicy for
// what it risks.
func AlwaysRetarget(from Branch, to Key) bool { return from.Subnet == to.Subnet }

// NeverRetarget allows no retarget.
func NeverRetarget(Branch, Key) bool { return false }

// BackoffPolicy returns how long to wait before attempt number attempt (1 for
// the first retry) of a failed background deletion or warm-target creation.
type BackoffPolicy func(attempt int) time.Duration

// DefaultBackoff doubles from 1 s up to 5 min.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 9 {
		return 5 * time.Minute
	}
	return min(time.Second<<(attempt-1), 5*time.Minute)
}

// WarmTarget asks a pool to keep Count warm ENIs of Key ready before any pod
// asks, as long as the node has free capacity. Warm ENIs kept for a target
// do not expire while the target holds. Key is taken as its Canonical form:
// the ENIs are created with the groups in ascending order, and serve pods
// that want the same groups in any order.
type WarmTarget struct {
	Key   Key
	Count int
}

// Policy governs reuse and deletion in a Pool. The zero Policy gives the
// defaults: a 60 s cool-down, warm ENIs reused for pods of the same key,
// deleted after 10 minutes idle, no cap but the node's limit, retargeting
// only to supersets, no fixed warm targets, and the node's spare slots kept
// warm for the keys of the pods that started there in the last 10 minutes
// (PrewarmPolicy).
//
// A Policy is a plain value; a Pool copies it.
type Policy struct {
	// CoolDown is how long a released ENI waits before reuse or deletion.
	// Zero means DefaultCoolDown; any other value under MinCoolDown
	// (negative ones too) is raised to MinCoolDown, as the VPC resource
	// controller does (see EffectiveCoolDown). Pool.Policy reports the
	// value in effect.
	CoolDown time.Duration
	// IdleTimeout is how long a warm ENI may wait unused before it is
	// deleted. Zero means DefaultIdleTimeout; negative keeps warm ENIs until
	// capacity is needed.
	IdleTimeout time.Duration
	// MaxWarm caps the warm ENIs of a node, all keys together; beyond it the
	// longest idle are deleted. Zero means no cap other than the node's
	// branch limit; NoWarm keeps none, so every ENI is deleted after its
	// cool-down.
	MaxWarm int
	// Retarget decides when a warm ENI of another key may be retargeted.
	// Nil means RetargetSuperset.
	Retarget RetargetPolicy
	// WarmTargets lists ENIs to create ahead of demand. Ignored with NoWarm.
	WarmTargets []WarmTarget
	// Backoff spaces retries of failed background work. Nil means
	// DefaultBackoff.
	Backoff BackoffPolicy
	// Prewarm keeps warm ENIs for the keys in demand on the node (see
	// PrewarmPolicy). The zero value turns it on with its defaults; it has
	// no effect with NoWarm.
	Prewarm PrewarmPolicy
}

// OnDemandPolicy is the production controller's strategy: no reuse, no warm
// ENIs, a new ENI for every pod, deletion after a 60 s cool-down.
func OnDemandPolicy() Policy {
	return Policy{CoolDown: DefaultCoolDown, MaxWarm: NoWarm, Retarget: NeverRetarget}
}

// Validate reports the first bad field of p, as NewPool would. The error
// names the field ("Policy.CoolDown"), its value and what to do, and matches
// ErrInvalidOptions.
func (p Policy) Validate() error {
	_, err := p.normalize("Policy")
	return err
}

// normalize fills defaults and checks bounds; path is the Go path of p in
// errors ("Policy", "Options.Policy").
func (p Policy) normalize(path string) (Policy, error) {
	p.CoolDown = EffectiveCoolDown(p.CoolDown)
	if p.IdleTimeout == 0 {
		p.IdleTimeout = DefaultIdleTimeout
	}
	if p.MaxWarm < NoWarm {
		return p, invalidOption(path+".MaxWarm", p.MaxWarm, "want a cap ≥ 0 (0: no cap but the node's limit), or NoWarm (-1)")
	}
	if p.Retarget == nil {
		p.Retarget = RetargetSuperset
	}
	if p.Backoff == nil {
		p.Backoff = DefaultBackoff
	}
	for i, t := range p.WarmTargets {
		field := fmt.Sprintf("%s.WarmTargets[%d]", path, i)
		if t.Count < 0 {
			return p, invalidOption(field+".Count", t.Count, "want ≥ 0")
		}
		if t.Key.Groups.IsEmpty() {
			return p, invalidOption(field+".Key.Groups", "{}", "want at least one security group (eni.MustGroupSet or ParseGroupSet)")
		}
		if t.Key.Subnet == "" {
			return p, invalidOption(field+".Key.Subnet", `""`, "want the subnet ID the warm ENIs are created in")
		}
	}
	if len(p.WarmTargets) > 0 {
		targets := slices.Clone(p.WarmTargets)
		for i := range targets {
			targets[i].Key = targets[i].Key.Canonical()
		}
		p.WarmTargets = targets
	}
	pw, err := p.Prewarm.normalize(path+".Prewarm", p.IdleTimeout)
	if err != nil {
		return p, err
	}
	p.Prewarm = pw
	if p.MaxWarm == NoWarm {
		p.WarmTargets = nil
	}
	return p, nil
}
