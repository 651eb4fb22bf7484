package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// TestSetup wires the controller into a manager (not started: no API server
// is needed) and checks that the webhooks are served.
func TestSetup(t *testing.T) {
	mgr, err := ctrl.NewManager(&rest.Config{Host: "http://127.0.0.1:1"}, ctrl.Options{
		Scheme:                 newScheme(t),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          webhook.NewServer(webhook.Options{Port: 0}),
		// Controller names are registered process-wide; skip the check so
		// the test can run more than once in one process (-count).
		Controller: config.Controller{SkipNameValidation: &skipNameValidation},
	})
	require.NoError(t, err)
	tm, err := trunk.New(fake.New(), trunk.Options{ClusterName: "my-cluster"})
	require.NoError(t, err)
	c, err := setup(mgr, tm, Shard{}, []string{controllerUser}, workers{})
	require.NoError(t, err)
	require.NotNil(t, c.Pods)
	mux := mgr.GetWebhookServer().WebhookMux()
	for _, path := range []string{MutatePodPath, ValidatePodPath, ValidatePolicyPath} {
		_, pattern := mux.Handler(httptestRequest(path))
		require.Equal(t, path, pattern)
	}
}

var skipNameValidation = true

func httptestRequest(path string) *http.Request {
	return httptest.NewRequest(http.MethodPost, path, nil)
}
