package trunk

import (
	"time"

	"github.com/podsg/podsg/eni"
)

// SetCoolDown changes how long a released branch ENI cools down before it
// is reused or deleted, on every node the Manager serves and on those it
// serves later, and returns the value in effect: eni.EffectiveCoolDown(d),
// so 0 means eni.DefaultCoolDown and anything under eni.MinCoolDown (30 s)
// is raised to it. ENIs cooling down now end their cool-down at their
// release time plus the new value.
//
// This is what the VPC resource controller does when the branch-eni-cooldown
// key (seconds) of the amazon-vpc-cni ConfigMap in kube-system changes
// (ConfigMapReconciler in controllers/core/configmap_controller.go of
// aws/amazon-vpc-resource-controller-k8s); examples/controller reads that
// key and calls SetCoolDown. It is safe to call concurrently with anything.
func (m *Manager) SetCoolDown(d time.Duration) time.Duration {
	d = eni.EffectiveCoolDown(d)
	m.coolMu.Lock()
	defer m.coolMu.Unlock()
	// A pool put in place from now on applies the new value itself (setUp
	// reads it under the node's lock, in the same step that publishes the
	// pool); a pool published before the Store is seen by Nodes below, so
	// none is missed.
	m.coolDown.Store(int64(d))
	for _, n := range m.Nodes() {
		if p, ok := m.Pool(n.InstanceID); ok {
			p.SetCoolDown(d)
		}
	}
	m.log.Info("branch ENI cool-down set", "coolDown", d)
	return d
}

// CoolDown returns the cool-down in effect for released branch ENIs: the
// last SetCoolDown, else Options.Policy's.
func (m *Manager) CoolDown() time.Duration {
	if d := m.coolDown.Load(); d != 0 {
		return time.Duration(d)
	}
	return eni.EffectiveCoolDown(m.opts.Policy.CoolDown)
}
