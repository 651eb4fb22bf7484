package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/podsg/podsg/trunk"
)

// Collector exports a trunk.Manager's state and counters as Prometheus
// metrics, read from Manager.Metrics at each scrape:
//
//	podsg_rebuilt                         1 once this replica rebuilt its state as leader
//	podsg_nodes                           nodes with a branch-ENI pool
//	podsg_branch_enis{state}              branch ENIs by state: creating, in_use, cooling, warm, deleting
//	podsg_branch_eni_limit                branch ENIs the nodes can hold, all together
//	podsg_branch_eni_events_total{event}  create, delete, warm_hit, retarget, eviction, failure
//	podsg_branch_eni_ready_seconds        histogram of Acquire → ready ENI
//	podsg_ec2_calls_total{action,outcome} EC2 calls, every attempt
//	podsg_ec2_retries_total               attempts repeated after a retryable error
//
// The controller registers it with controller-runtime's registry, served on
// -metrics-bind-address. A Collector is safe for concurrent use.
type Collector struct {
	Trunk *trunk.Manager
	// Rebuilt is closed once Rebuild has run.
	Rebuilt <-chan struct{}
}

var (
	descRebuilt = prometheus.NewDesc("podsg_rebuilt", "1 once this replica has rebuilt its state from EC2 and the API server (as leader of its shard).", nil, nil)
	descNodes   = prometheus.NewDesc("podsg_nodes", "Nodes with a branch-ENI pool.", nil, nil)
	descENIs    = prometheus.NewDesc("podsg_branch_enis", "Branch ENIs by state.", []string{"state"}, nil)
	descLimit   = prometheus.NewDesc("podsg_branch_eni_limit", "Branch ENIs the served nodes can hold, all together.", nil, nil)
	descEvents  = prometheus.NewDesc("podsg_branch_eni_events_total", "Branch-ENI pool events.", []string{"event"}, nil)
	descReady   = prometheus.NewDesc("podsg_branch_eni_ready_seconds", "Time from a pod's Acquire to its ready branch ENI.", nil, nil)
	descCalls   = prometheus.NewDesc("podsg_ec2_calls_total", "EC2 calls by action and outcome; every attempt counts.", []string{"action", "outcome"}, nil)
	descRetries = prometheus.NewDesc("podsg_ec2_retries_total", "EC2 attempts repeated after a retryable error.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRebuilt, descNodes, descENIs, descLimit, descEvents, descReady, descCalls, descRetries} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	rebuilt := 0.0
	select {
	case <-c.Rebuilt:
		rebuilt = 1
	default:
	}
	ch <- prometheus.MustNewConstMetric(descRebuilt, prometheus.GaugeValue, rebuilt)
	m := c.Trunk.Metrics()
	ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(m.Nodes))
	p := m.Pools
	for state, n := range map[string]int{"creating": p.Creating, "in_use": p.InUse, "cooling": p.Cooling, "warm": p.Warm, "deleting": p.Deleting} {
		ch <- prometheus.MustNewConstMetric(descENIs, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(descLimit, prometheus.GaugeValue, float64(p.Limit))
	for event, n := range map[string]uint64{"create": p.Creates, "delete": p.Deletes, "warm_hit": p.WarmHits,
		"retarget": p.Retargets, "eviction": p.Evictions, "failure": p.Failures} {
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(n), event)
	}
	buckets := make(map[float64]uint64, len(m.Ready.Bounds))
	var cum uint64
	for i, b := range m.Ready.Bounds {
		cum += m.Ready.Counts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(descReady, m.Ready.Count, m.Ready.Sum.Seconds(), buckets)
	for action, byOutcome := range m.Calls {
		for outcome, n := range byOutcome {
			ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(n), action, string(outcome))
		}
	}
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(m.Retries))
}
