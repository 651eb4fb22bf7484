//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/kernel"
	"github.com/stretchr/testify/require"
)

// Bounds of TestLatency, in milliseconds. On an idle 2-core machine ADD
// takes about 17 ms at p50 and DEL about 47 ms (two link deletions, each
// waiting for the kernel's RCU grace periods); the tail is what other
// processes leave of the CPU. The bounds catch regressions (a sleep, a
// wait on the API server, work that grows with the node's pods) while
// leaving room for a CI machine running the whole suite at once.
const (
	addP50Bound = 100
	addP99Bound = 750
	delP50Bound = 200
	delP99Bound = 750
)

// TestLatency measures CNI ADD and DEL as a container runtime sees them:
// libcni runs the built plugin for 200 pods on 4 nodes (50 each, every pod
// up at once), one call at a time, ADD in pod order and DEL in an order
// drawn from the seed (PODSG_SEED, default 1). Each node's first ADD, which
// also applies the node plan, is a warm-up outside the figures. In the same
// run it measures two floors: starting the plugin at all (CNI VERSION
// through libcni), and applying the same setup and teardown plans in
// process with enforce/kernel (the kernel work without a process, the API
// server or the records).
func TestLatency(t *testing.T) {
	w := newWorld(t)
	seed := uint64(1)
	if s := os.Getenv("PODSG_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "PODSG_SEED")
		seed = v
	}
	quiet := map[string]any{"logFile": nil, "logLevel": nil}
	const nodes, perNode = 4, 50
	var ns []*testNode
	for range nodes {
		n := w.node("strict", quiet)
		n.warm(t)
		ns = append(ns, n)
	}
	var pods []placed
	for i := range nodes * perNode {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(4 + i/250), byte(1 + i%250)})
		pods = append(pods, placed{w.pod(fmt.Sprintf("lat-%d", i), i/nodes+1, ip), ns[i%nodes]})
	}

	var add, del []time.Duration
	for _, x := range pods {
		start := time.Now()
		_, err := x.n.add(x.p)
		add = append(add, time.Since(start))
		require.NoError(t, err, x.p.Name)
	}
	order := slices.Clone(pods)
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, x := range order {
		start := time.Now()
		err := x.n.del(x.p)
		del = append(del, time.Since(start))
		require.NoError(t, err, x.p.Name)
	}
	requireNoRecords(t, ns...)

	// Floor 1: the plugin process itself.
	var execs []time.Duration
	for range 50 {
		start := time.Now()
		_, err := ns[0].cni.GetVersionInfo(t.Context(), "podsg-cni")
		execs = append(execs, time.Since(start))
		require.NoError(t, err)
	}
	// Floor 2: the same kernel work in process.
	applyD, teardownD := inProcess(t, ns[1], pods[:perNode])

	addP50, addP99 := pct(add, 50), pct(add, 99)
	delP50, delP99 := pct(del, 50), pct(del, 99)
	fmt.Printf("cni pods=%d add_p50_ms=%.1f add_p99_ms=%.1f del_p50_ms=%.1f del_p99_ms=%.1f seed=%d\n",
		len(pods), ms(addP50), ms(addP99), ms(delP50), ms(delP99), seed)
	fmt.Printf("cni floor exec_p50_ms=%.1f apply_p50_ms=%.1f teardown_p50_ms=%.1f\n",
		ms(pct(execs, 50)), ms(pct(applyD, 50)), ms(pct(teardownD, 50)))

	slowest := func(ds []time.Duration, ps []placed) string {
		i := slices.Index(ds, slices.Max(ds))
		return fmt.Sprintf("%.1fms (%s on %s)", ms(ds[i]), ps[i].p.Name, ps[i].n.Name)
	}
	fmt.Printf("cni slowest add=%s del=%s\n", slowest(add, pods), slowest(del, order))

	require.Less(t, ms(addP50), float64(addP50Bound), "ADD p50")
	require.Less(t, ms(addP99), float64(addP99Bound), "ADD p99")
	require.Less(t, ms(delP50), float64(delP50Bound), "DEL p50")
	require.Less(t, ms(delP99), float64(delP99Bound), "DEL p99")
	require.Greater(t, addP50, pct(execs, 50), "an ADD costs more than starting the plugin: the figures measure real work")
}

// inProcess applies the setup and teardown plans of the given pods on node
// n with enforce/kernel inside the test process, one at a time, and
// returns how long each took.
func inProcess(t *testing.T, n *testNode, pods []placed) (setup, teardown []time.Duration) {
	t.Helper()
	c, err := parseConfig(mustJSON(t, map[string]any{"cniVersion": "1.1.0", "name": "podsg", "type": "podsg-cni",
		"trunkLink": "eth1", "primaryIP": n.IP.Addr().String(), "vpcCIDRs": []string{"10.0.0.0/16"},
		"vlanStandIn": map[string]any{"peerNetNS": n.w.vpc.Path, "peerPrefix": "ip"}}))
	require.NoError(t, err)
	b, err := c.builder(nil, false)
	require.NoError(t, err)
	err = n.Do(func() error {
		for _, x := range pods {
			pod := enforce.Pod{Namespace: x.p.Namespace, Name: x.p.Name + "-x", NetNS: x.p.NS.Path, IfName: "eth1", Branch: x.p.Branch}
			sp, err := b.Setup(pod)
			if err != nil {
				return err
			}
			td, err := b.Teardown(pod)
			if err != nil {
				return err
			}
			nl, err := kernel.NewNetlink(kernel.NetlinkOptions{VLANStandIn: standIn(c.standIn, x.p.Branch, c.opts.Family)})
			if err != nil {
				return err
			}
			start := time.Now()
			if err := nl.Apply(t.Context(), &sp); err != nil {
				return err
			}
			setup = append(setup, time.Since(start))
			start = time.Now()
			if err := nl.Apply(t.Context(), &td); err != nil {
				return err
			}
			teardown = append(teardown, time.Since(start))
		}
		return nil
	})
	require.NoError(t, err)
	return setup, teardown
}

// placed is a pod and the node it runs on.
type placed struct {
	p *testPod
	n *testNode
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
