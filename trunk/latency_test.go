package trunk_test

import (
	"time"

	"github.com/podsg/podsg/fake"
)

// ec2Latencies are the per-call latencies the scenario tests give the fake:
// a base plus a uniform jitter, roughly what a controller inside the region
// sees. CreateNetworkInterface is the slowest call (it allocates an address
// and a MAC and programs the VPC); trunk association and disassociation,
// deletion and the group change are mid-weight; Describe calls are quick.
var ec2Latencies = map[fake.Action]fake.Latency{
	fake.ActionCreateNetworkInterface:          {Base: 400 * time.Millisecond, Jitter: 300 * time.Millisecond},
	fake.ActionAssociateTrunkInterface:         {Base: 200 * time.Millisecond, Jitter: 150 * time.Millisecond},
	fake.ActionDisassociateTrunkInterface:      {Base: 200 * time.Millisecond, Jitter: 150 * time.Millisecond},
	fake.ActionDeleteNetworkInterface:          {Base: 250 * time.Millisecond, Jitter: 150 * time.Millisecond},
	fake.ActionModifyNetworkInterfaceAttribute: {Base: 150 * time.Millisecond, Jitter: 100 * time.Millisecond},
	"": {Base: 100 * time.Millisecond, Jitter: 100 * time.Millisecond},
}

// setLatencies installs ec2Latencies in f.
func setLatencies(f *fake.EC2) {
	for action, l := range ec2Latencies {
		f.SetLatency(action, l)
	}
}
