package fake_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// TestActionsAreTheOperations checks that the Action constants name exactly
// the operations *EC2 implements: the methods with the *ec2.Client method's
// signature.
func TestActionsAreTheOperations(t *testing.T) {
	client := reflect.TypeFor[*ec2.Client]()
	var ops []fake.Action
	ft := reflect.TypeFor[*fake.EC2]()
	for i := range ft.NumMethod() {
		m := ft.Method(i)
		cm, ok := client.MethodByName(m.Name)
		if ok && cm.Type.NumIn() == m.Type.NumIn() && cm.Type.In(2) == m.Type.In(2) && cm.Type.Out(0) == m.Type.Out(0) {
			ops = append(ops, fake.Action(m.Name))
		}
	}
	require.Equal(t, ops, fake.Actions())
	for _, a := range ops {
		require.True(t, a.Implemented(), a)
	}
	require.False(t, fake.Action("DescribeImages").Implemented())
	require.False(t, fake.Action("").Implemented())
}

// TestControlsRefuseUnknownActions checks that every test control panics on
// an action the fake does not implement, so a typo cannot make a fault or
// latency test pass without injecting anything.
func TestControlsRefuseUnknownActions(t *testing.T) {
	const typo = fake.Action("CreateNetworkInterfaces")
	f := fake.New()
	controls := map[string]func(a fake.Action){
		"InjectFault":     func(a fake.Action) { f.InjectFault(fake.Fault{Action: a, OnCall: 1}) },
		"SetLatency":      func(a fake.Action) { f.SetLatency(a, fake.Latency{}) },
		"SetActionBucket": func(a fake.Action) { f.SetActionBucket(a, fake.Bucket{Size: 1}) },
		"Count":           func(a fake.Action) { f.Count(a) },
		"CallsOf":         func(a fake.Action) { f.CallsOf(a) },
	}
	for name, control := range controls {
		t.Run(name, func(t *testing.T) {
			v := panicValue(func() { control(typo) })
			require.Contains(t, fmt.Sprint(v), `"CreateNetworkInterfaces"`, "a typo must panic, naming it")
			require.Nil(t, panicValue(func() { control(fake.ActionCreateNetworkInterface) }))
		})
	}
	// "" means every action for faults and the default for latency, and
	// nothing for the others.
	require.Nil(t, panicValue(func() { f.InjectFault(fake.Fault{OnCall: 1})() }))
	require.Nil(t, panicValue(func() { f.SetLatency("", fake.Latency{}) }))
	for _, name := range []string{"SetActionBucket", "Count", "CallsOf"} {
		require.NotNil(t, panicValue(func() { controls[name]("") }), name)
	}
}

func TestInjectFaultRefusesFaultsThatCannotFire(t *testing.T) {
	f := fake.New()
	for _, ft := range []fake.Fault{
		{Action: fake.ActionCreateTags},                   // neither OnCall nor Probability
		{Action: fake.ActionCreateTags, Probability: 1.5}, // not a probability
		{Action: fake.ActionCreateTags, OnCall: -1},
		{Action: fake.ActionCreateTags, OnCall: 1, Times: -2},
	} {
		require.NotNil(t, panicValue(func() { f.InjectFault(ft) }), "%+v", ft)
	}
	require.NotNil(t, panicValue(func() { f.SetLatency(fake.ActionCreateTags, fake.Latency{Base: -1}) }))
	require.NotNil(t, panicValue(func() { f.SetActionBucket(fake.ActionCreateTags, fake.Bucket{}) }))
	require.True(t, slices.IsSorted(fake.Actions()))
}
