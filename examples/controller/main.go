// Command controller is a compact but complete security-groups-for-pods
// controller built with controller-runtime on podsg, the counterpart of the
// Amazon VPC resource controller's branch-ENI feature. Copy it as the start of
// your own.
//
// It runs:
//
//   - a mutating webhook (MutatePodPath, PodMutator) that adds the
//     vpc.amazonaws.com/pod-eni resource to pods the SecurityGroupPolicies
//     select, or the fargate.amazonaws.com/pod-sg annotation to Fargate pods;
//   - a validating webhook (ValidatePodPath, PodValidator) that stops anyone but
//     the controller from setting those annotations;
//   - a validating webhook (ValidatePolicyPath, PolicyValidator) that never
//     refuses a SecurityGroupPolicy but returns what v1beta1.Validate finds
//     as admission warnings (the CRD accepts what EKS's accepts);
//   - a SecurityGroupPolicy watch (PolicyReconciler) that feeds a
//     selector.Index;
//   - a node reconciler (NodeReconciler) that ensures each node's trunk ENI
//     and advertises its branch-ENI capacity;
//   - a pod reconciler (PodReconciler) that acquires and releases branch ENIs
//     through a trunk.Manager and writes the pod-eni annotation;
//   - Rebuild after each start or leader change, then the manager's background
//     work (cool-downs, deletions, garbage collection);
//   - a watch of the amazon-vpc-cni ConfigMap in kube-system
//     (CoolDownReconciler) that takes the branch ENI cool-down from its
//     branch-eni-cooldown key, as the VPC resource controller does;
//   - with -custom-networking, the nodes' ENIConfigs (ENIConfigs): the trunk
//     and branch ENIs of a node whose ENIConfig names a subnet go to that
//     subnet, its trunk gets the ENIConfig's groups, as with the VPC
//     resource controller.
//
// With -ipv6 (an IPv6 cluster) every branch ENI gets an IPv6 address, which
// the annotation carries for the CNI plugin of the IPv6 nodes.
//
// Leader election (on by default) makes one replica the writer; the webhooks
// serve on every replica. For large clusters, shard nodes across replicas with
// -shards N -shard-index I: each shard elects its own leader
// (podsg-controller-<I>-of-<N>), serves the nodes whose name hashes to it and
// their pods, with its own EC2 request budget and its own rebuild, so a
// restart rebuilds 1/N of the state and N shards together stay within the
// account's EC2 limits only if each is given 1/N of them (-ec2-share).
//
// Flags name the cluster, the EC2 endpoint and region (or the usual AWS
// configuration), and the controller's service account for the validating
// webhook. config/ holds the manifests to deploy it: the RBAC it needs
// (rbac.yaml), the webhook configurations and their Service (webhook.yaml)
// and a Deployment (deployment.yaml). Its IAM role needs the
// AmazonEKSVPCResourceController policy, and the account must be allowed to
// call the EC2 trunking APIs (AssociateTrunkInterface and its kin), which AWS
// allow-lists.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/trunk"
)

// options are the controller's flags.
type options struct {
	ClusterName    string
	Endpoint       string
	Region         string
	ServiceAccount string
	LeaderElect    bool
	LeaseNamespace string
	Shards         int
	ShardIndex     int
	EC2Share       float64
	WebhookHost    string
	WebhookPort    int
	CertDir        string
	ProbeAddr      string
	MetricsAddr    string
	PodWorkers     int
	NodeWorkers    int
	CoolDown       time.Duration
	MaxWarm        int
	LogLevel       slog.Level
	IPv6           bool
	// Custom networking (see ENIConfigs).
	CustomNetworking       bool
	ENIConfigLabelDef      string
	ENIConfigAnnotationDef string
}

// Paths of the webhooks on the webhook server (config/webhook.yaml).
const (
	MutatePodPath      = "/mutate-pod"
	ValidatePodPath    = "/validate-pod"
	ValidatePolicyPath = "/validate-securitygrouppolicy"
)

// flagSet returns the controller's flags, bound to o.
func flagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("controller", flag.ExitOnError)
	fs.StringVar(&o.ClusterName, "cluster-name", "", "the EKS cluster's name, for the kubernetes.io/cluster/<name> tag of branch ENIs (required)")
	fs.StringVar(&o.Endpoint, "ec2-endpoint", "", "EC2 endpoint URL, e.g. cmd/fakeec2's (default: the region's)")
	fs.StringVar(&o.Region, "region", "", "AWS region (default: from the AWS configuration)")
	fs.StringVar(&o.ServiceAccount, "service-account", "system:serviceaccount:kube-system:podsg-controller", "the controller's username, the only one allowed to write the pod annotations")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "elect one leader (per shard) among replicas")
	fs.StringVar(&o.LeaseNamespace, "leader-election-namespace", "kube-system", "namespace of the leader-election Lease (config/rbac.yaml grants access to Leases there)")
	fs.IntVar(&o.Shards, "shards", 1, "number of shards the nodes are split into")
	fs.IntVar(&o.ShardIndex, "shard-index", 0, "this replica's shard, 0 to shards-1")
	fs.Float64Var(&o.EC2Share, "ec2-share", 0, "fraction of the account's EC2 request rate this shard may use (default 1/shards)")
	fs.StringVar(&o.WebhookHost, "webhook-host", "", "address the webhook server listens on (default: all)")
	fs.IntVar(&o.WebhookPort, "webhook-port", 9443, "port of the webhook server")
	fs.StringVar(&o.CertDir, "cert-dir", "", "directory of the webhook server's tls.crt and tls.key")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "address of /metrics (0 disables it)")
	fs.IntVar(&o.PodWorkers, "pod-workers", 20, "pods prepared at once (the VPC resource controller's 20); EC2's rate limits, not this, bound a burst")
	fs.IntVar(&o.NodeWorkers, "node-workers", 10, "nodes given a trunk at once")
	fs.DurationVar(&o.CoolDown, "cooldown", eni.DefaultCoolDown, fmt.Sprintf("cool-down of released branch ENIs before reuse or deletion (at least %v), until the %s ConfigMap's %s key sets one", eni.MinCoolDown, CoolDownConfigMapName, CoolDownKey))
	fs.IntVar(&o.MaxWarm, "max-warm", 0, "warm branch ENIs kept per node for reuse (0: up to the node's limit; -1: none, every released ENI is deleted after its cool-down, as the VPC resource controller does)")
	fs.TextVar(&o.LogLevel, "log-level", slog.LevelInfo, "log level: DEBUG, INFO, WARN or ERROR")
	fs.BoolVar(&o.IPv6, "ipv6", false, "the cluster is IPv6 (the VPC CNI's ENABLE_IPv6): branch ENIs get an IPv6 address, written to the pod annotation")
	fs.BoolVar(&o.CustomNetworking, "custom-networking", false,
		"custom networking (the VPC CNI's AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG; needs its ENIConfig CRD): trunk and branch ENIs of a node with an ENIConfig go to its subnet, the trunk gets its groups")
	fs.StringVar(&o.ENIConfigLabelDef, "eni-config-label-def", DefaultENIConfigKey, "node label naming the node's ENIConfig (the VPC CNI's ENI_CONFIG_LABEL_DEF)")
	fs.StringVar(&o.ENIConfigAnnotationDef, "eni-config-annotation-def", DefaultENIConfigKey, "node annotation naming the node's ENIConfig (the VPC CNI's ENI_CONFIG_ANNOTATION_DEF)")
	// -kubeconfig is controller-runtime's flag, read by ctrl.GetConfig.
	ctrlconfig.RegisterFlags(fs)
	fs.Lookup(ctrlconfig.KubeconfigFlagName).Usage = "kubeconfig file of the cluster to serve, to run outside it " +
		"(default: $KUBECONFIG, then the pod's service account in a cluster, then ~/.kube/config)"
	return fs
}

func main() {
	var o options
	_ = flagSet(&o).Parse(os.Args[1:])
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		fmt.Fprintf(os.Stderr, "controller: %v\n", err)
		os.Exit(1)
	}
}

// validate checks the options that need no cluster.
func (o options) validate() error {
	if o.ClusterName == "" {
		return fmt.Errorf("-cluster-name is required: the cluster's name tags every branch ENI and scopes garbage collection")
	}
	if o.Shards < 1 || o.ShardIndex < 0 || o.ShardIndex >= o.Shards {
		return fmt.Errorf("-shards %d -shard-index %d: want shards >= 1 and 0 <= shard-index < shards", o.Shards, o.ShardIndex)
	}
	if o.EC2Share < 0 || o.EC2Share > 1 {
		return fmt.Errorf("-ec2-share %v: want a fraction between 0 and 1", o.EC2Share)
	}
	if o.PodWorkers < 1 || o.NodeWorkers < 1 {
		return fmt.Errorf("-pod-workers %d -node-workers %d: want at least 1 each", o.PodWorkers, o.NodeWorkers)
	}
	if o.CoolDown < eni.MinCoolDown {
		return fmt.Errorf("-cooldown %v: want at least %v (shorter cool-downs break ARP caches on the node)", o.CoolDown, eni.MinCoolDown)
	}
	if o.MaxWarm < eni.NoWarm {
		return fmt.Errorf("-max-warm %d: want 0 or more, or -1 for none", o.MaxWarm)
	}
	return nil
}

// policy returns the branch-ENI policy the flags ask for.
func (o options) policy() eni.Policy {
	return eni.Policy{CoolDown: o.CoolDown, MaxWarm: o.MaxWarm}
}

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.LogLevel}))
	slog.SetDefault(logger)
	ctrl.SetLogger(logr.FromSlogHandler(logger.Handler()))
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to: %w (set -kubeconfig or KUBECONFIG, or run in a pod)", err)
	}
	shard := Shard{Index: o.ShardIndex, Count: o.Shards}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := AddENIConfigToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:           scheme,
		LeaderElection:   o.LeaderElect,
		LeaderElectionID: fmt.Sprintf("podsg-controller-%d-of-%d", o.ShardIndex, o.Shards),
		// Explicit, so that the controller also elects outside a cluster
		// (with -kubeconfig), where there is no pod namespace to default to.
		LeaderElectionNamespace: o.LeaseNamespace,
		// main exits as soon as the manager stops, so the Lease can be
		// handed over at once on a graceful stop (a rollout) instead of
		// after it expires; a crashed leader's Lease still expires.
		LeaderElectionReleaseOnCancel: true,
		WebhookServer:                 webhook.NewServer(webhook.Options{Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.CertDir}),
		HealthProbeBindAddress:        o.ProbeAddr,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	// Ready once the webhook server serves: the API server calls it for
	// every pod creation.
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}

	client, err := newEC2(ctx, o)
	if err != nil {
		return err
	}
	share := o.EC2Share
	if share == 0 {
		share = 1 / float64(o.Shards)
	}
	topts := trunk.Options{
		ClusterName: o.ClusterName,
		Policy:      o.policy(),
		// Keep 20 % of the account's rate for other clients, and split the
		// rest among the shards.
		Budget: trunk.BudgetOptions{Headroom: 1 - 0.8*share},
		Logger: logger,
		IPv6:   o.IPv6,
	}
	var eniConfigs *ENIConfigs
	if o.CustomNetworking {
		eniConfigs = &ENIConfigs{Reader: mgr.GetClient(), LabelDef: o.ENIConfigLabelDef, AnnotationDef: o.ENIConfigAnnotationDef}
		topts.CustomNetworking = eniConfigs.CustomNetwork
	}
	tm, err := trunk.New(client, topts)
	if err != nil {
		return err
	}
	c, err := setup(mgr, tm, shard, []string{o.ServiceAccount}, workers{Pods: o.PodWorkers, Nodes: o.NodeWorkers})
	if err != nil {
		return err
	}
	if err := ctrlmetrics.Registry.Register(&Collector{Trunk: tm, Rebuilt: c.Rebuilt}); err != nil {
		return err
	}
	if eniConfigs != nil {
		if err := setupCustomNetworking(ctx, mgr, eniConfigs, c.Nodes); err != nil {
			return err
		}
	}
	return mgr.Start(ctx)
}

// controllers are the parts setup wires into a manager.
type controllers struct {
	Index    *selector.Index
	Policies *PolicyReconciler
	Nodes    *NodeReconciler
	Pods     *PodReconciler
	Mutator  *PodMutator
	Validate *PodValidator
	Warn     *PolicyValidator
	CoolDown *CoolDownReconciler
	// Rebuilt is closed once Rebuild has run (on the leader of the shard).
	Rebuilt <-chan struct{}
}

// setup registers the webhooks, the reconcilers, the rebuild and the trunk
// manager's background work with mgr.
// workers are the reconcilers' concurrency (zero: one worker).
type workers struct{ Pods, Nodes int }

func setup(mgr manager.Manager, tm *trunk.Manager, shard Shard, users []string, n workers) (*controllers, error) {
	indexOpts := selector.Options{Logger: slog.Default()}
	index := selector.NewIndex(indexOpts)
	events := mgr.GetEventRecorder("podsg-controller")
	ready := make(chan struct{})
	loader := &PolicyLoader{Cache: mgr.GetCache(), Index: index, Loaded: make(chan struct{})}
	decoder := admission.NewDecoder(mgr.GetScheme())
	c := &controllers{
		Index:    index,
		Policies: &PolicyReconciler{Client: mgr.GetClient(), Index: index, Events: events},
		Nodes:    &NodeReconciler{Client: mgr.GetClient(), Trunk: tm, Events: events, Shard: shard, Ready: ready},
		Pods:     &PodReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Trunk: tm, Index: index, Events: events, Shard: shard, Ready: ready},
		Mutator:  &PodMutator{Reader: mgr.GetClient(), Index: index, Decoder: decoder, Loaded: loader.Loaded},
		Rebuilt:  ready,
	}
	c.Validate = &PodValidator{Users: users, Mutator: c.Mutator, Decoder: decoder}
	c.Warn = &PolicyValidator{Validate: indexOpts.Validate}

	hooks := mgr.GetWebhookServer()
	hooks.Register(MutatePodPath, &webhook.Admission{Handler: c.Mutator})
	hooks.Register(ValidatePodPath, &webhook.Admission{Handler: c.Validate})
	hooks.Register(ValidatePolicyPath, admission.WithValidator(mgr.GetScheme(), c.Warn))

	// Every replica serves the webhooks, so every replica keeps the index:
	// the policy watch and the first load run without leader election, and
	// a replica is ready once the index holds the policies that existed
	// when it started.
	if err := mgr.Add(loader); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("policies", loader.Check); err != nil {
		return nil, err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("securitygrouppolicy").For(&v1beta1.SecurityGroupPolicy{}).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).Complete(c.Policies); err != nil {
		return nil, err
	}
	// The branch ENI cool-down, from the amazon-vpc-cni ConfigMap, through a
	// cache of that one object. Every replica follows it, so that a new
	// leader starts with the current value.
	cmCache, err := coolDownCache(mgr)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(cmCache); err != nil {
		return nil, err
	}
	c.CoolDown = &CoolDownReconciler{Reader: cmCache, Trunk: tm, Events: events, Logger: slog.Default()}
	everyReplica := false
	if err := ctrl.NewControllerManagedBy(mgr).Named("branch-eni-cooldown").
		WatchesRawSource(source.Kind(cmCache, &corev1.ConfigMap{}, &handler.TypedEnqueueRequestForObject[*corev1.ConfigMap]{})).
		WithOptions(controller.Options{NeedLeaderElection: &everyReplica}).
		Complete(c.CoolDown); err != nil {
		return nil, err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("node").
		For(&corev1.Node{}, builder.WithPredicates(nodeChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(n.Nodes, 1)}).Complete(c.Nodes); err != nil {
		return nil, err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("pod").
		For(&corev1.Pod{}, builder.WithPredicates(podENIRequested)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(n.Pods, 1)}).Complete(c.Pods); err != nil {
		return nil, err
	}
	// Leader-elected: rebuild, then run the background work.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if err := Rebuild(ctx, mgr.GetAPIReader(), tm, c.Pods, events, shard, ready); err != nil {
			return err
		}
		return ignoreCanceled(tm.Run(ctx))
	})); err != nil {
		return nil, err
	}
	return c, nil
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// newEC2 returns an EC2 client from the usual AWS configuration.
func newEC2(ctx context.Context, o options) (*ec2.Client, error) {
	var lo []func(*config.LoadOptions) error
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region: set -region or AWS_REGION")
	}
	return ec2.NewFromConfig(cfg, func(eo *ec2.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}
