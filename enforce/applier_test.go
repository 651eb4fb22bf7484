package enforce_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/enforce"
)

type recorder struct {
	name     string
	log      *[]string
	refuse   error
	applyErr error
}

func (r recorder) Apply(context.Context, *enforce.Plan) error {
	*r.log = append(*r.log, "apply "+r.name)
	return r.applyErr
}

type checker struct{ recorder }

func (c checker) Check(*enforce.Plan) error {
	*c.log = append(*c.log, "check "+c.name)
	return c.refuse
}

func TestJoinChecksFirst(t *testing.T) {
	refused := errors.New("refused")
	var log []string
	nl := recorder{name: "netlink", log: &log}
	ipt := checker{recorder{name: "iptables", log: &log}}
	p := enforce.Plan{Kind: enforce.NodeSetup}
	require.NoError(t, enforce.Join(nl, ipt).Apply(t.Context(), &p))
	require.Equal(t, []string{"check iptables", "apply netlink", "apply iptables"}, log)

	log = nil
	ipt.refuse = refused
	require.ErrorIs(t, enforce.Join(nl, ipt).Apply(t.Context(), &p), refused)
	require.Equal(t, []string{"check iptables"}, log, "a refused plan changes nothing")

	// Teardown plans go on after a failure and return every error.
	log = nil
	failed := errors.New("failed")
	td := enforce.Plan{Kind: enforce.PodTeardown}
	err := enforce.Join(recorder{name: "a", log: &log, applyErr: failed}, recorder{name: "b", log: &log}).Apply(t.Context(), &td)
	require.ErrorIs(t, err, failed)
	require.Equal(t, []string{"apply a", "apply b"}, log)
}
