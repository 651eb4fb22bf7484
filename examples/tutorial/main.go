// Command tutorial replays the Amazon EKS tutorial "Security groups for pods"
// end to end with podsg, in a few seconds, without credentials or a cluster:
//
//	go run ./examples/tutorial
//
// It plays the parts of the cluster (namespace, policy, deployment, scheduler),
// of the VPC resource controller (package trunk over package eni's pools, fed
// by package selector) and of the person at the terminal ("curl my-app",
// decided by package preflight's reachability evaluator over the security
// groups' actual rules). EC2 is the embedded fake (package fake) unless
// -endpoint names another one.
//
// The steps: nodes get trunk ENIs; the namespace and the SecurityGroupPolicy
// are applied (validated first); the 4-replica deployment gets one branch ENI
// per pod; "curl my-app" works; the DNS rules are revoked by rule ID; name
// resolution fails while a pod IP still answers; cleanup, after which EC2
// holds no branch ENI. Then the tutorial's troubleshooting cases: the 46th pod
// of five m5.large nodes stays Pending, and a policy naming a group that does
// not exist leaves its pod stuck with InvalidSecurityGroupID.NotFound. What
// it prints of EC2 it reads back from EC2 and checks.
//
// # Eventual consistency
//
// EC2 is eventually consistent, and the tutorial behaves as EC2 asks of its
// clients: a call naming an ID created a moment ago is retried while EC2
// answers NotFound, it waits for instances to run, and it polls listings
// until they show what it just did. -eventual gives the embedded fake EC2's
// lags (fake.EventualConsistency), which adds seconds of waiting.
//
// # Cool-down
//
// A released branch ENI waits a cool-down (60 s, at least 30 s) before it is
// deleted, so that ARP caches forget the pod's address. By default the
// tutorial does not wait it out: once every pod is gone, it drains the nodes'
// pools, which deletes the remaining branch ENIs at once, as when nodes are
// removed. -wait waits the real cool-down instead (-cooldown sets it).
//
// # Another EC2 endpoint
//
// -endpoint URL sends every call to another EC2 endpoint, for example
// cmd/fakeec2:
//
//	go run ./cmd/fakeec2 -listen 127.0.0.1:8080 &
//	go run ./examples/tutorial -endpoint http://127.0.0.1:8080
//
// Credentials and region come from the usual AWS configuration (-region
// overrides it; without one, us-west-2). Without AWS_ACCESS_KEY_ID or
// AWS_PROFILE, requests are signed with dummy credentials, which a local
// endpoint accepts. The tutorial creates its VPC,
// groups and five m5.large instances there through the API. Real EC2 is
// refused: besides the cost of the instances, the trunking calls
// (AssociateTrunkInterface, DisassociateTrunkInterface,
// DescribeTrunkInterfaceAssociations) are present in the SDK but only callable
// by accounts AWS has allow-listed for them (EKS itself), and the controller's
// IAM role needs the AmazonEKSVPCResourceController policy.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
)

// options are the tutorial's flags.
type options struct {
	// Endpoint is the EC2 endpoint URL; empty means the embedded fake.
	Endpoint string
	// Region is the region of Endpoint (and the one the fake reports).
	Region string
	// Wait waits out the real cool-down instead of draining the pools.
	Wait bool
	// CoolDown is the branch ENIs' cool-down (eni.DefaultCoolDown when 0).
	CoolDown time.Duration
	// SkipTroubleshooting leaves out the troubleshooting cases.
	SkipTroubleshooting bool
	// Eventual gives the embedded fake EC2's eventual consistency
	// (fake.EventualConsistency): new IDs unknown for a moment, Describe
	// calls lagging behind changes.
	Eventual bool
}

func main() {
	var o options
	fs := flag.NewFlagSet("tutorial", flag.ExitOnError)
	fs.StringVar(&o.Endpoint, "endpoint", "", "EC2 endpoint URL, e.g. http://127.0.0.1:8080 for cmd/fakeec2 (default: the embedded fake EC2)")
	fs.StringVar(&o.Region, "region", "", "AWS region of -endpoint (default: from the AWS configuration; "+fake.DefaultRegion+" for the embedded fake)")
	fs.BoolVar(&o.Wait, "wait", false, "wait out the branch ENIs' real cool-down at cleanup instead of draining the nodes' pools")
	fs.DurationVar(&o.CoolDown, "cooldown", eni.DefaultCoolDown, fmt.Sprintf("cool-down of released branch ENIs (less than %v is raised to %v)", eni.MinCoolDown, eni.MinCoolDown))
	fs.BoolVar(&o.SkipTroubleshooting, "skip-troubleshooting", false, "leave out the troubleshooting cases")
	fs.BoolVar(&o.Eventual, "eventual", false, "give the embedded fake EC2's eventual consistency: fresh IDs unknown for a moment, listings lagging (adds seconds of waiting)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./examples/tutorial [flags]\n\nReplays the EKS tutorial \"Security groups for pods\" on the embedded fake EC2.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "tutorial: unexpected argument %q (run with -h for the flags)\n", fs.Arg(0))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, region, err := newClient(ctx, o)
	if err == nil {
		o.Region = region
		err = run(ctx, os.Stdout, client, o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tutorial: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// newClient returns the EC2 the tutorial talks to and its region.
func newClient(ctx context.Context, o options) (ec2API, string, error) {
	if o.Endpoint == "" {
		region := o.Region
		if region == "" {
			region = fake.DefaultRegion
		}
		fo := fake.Options{Region: region}
		if o.Eventual {
			fo.Consistency = fake.EventualConsistency()
		}
		return fake.New(fo), region, nil
	}
	if o.Eventual {
		return nil, "", fmt.Errorf("-eventual applies to the embedded fake EC2; an -endpoint has the consistency it has (cmd/fakeec2 -eventual)")
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, "", fmt.Errorf("-endpoint %q: want a URL such as http://127.0.0.1:8080", o.Endpoint)
	}
	if h := u.Hostname(); strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn") {
		return nil, "", fmt.Errorf("-endpoint %s is real EC2: the tutorial launches five m5.large instances, and the trunking calls "+
			"(AssociateTrunkInterface and its kin) only work for accounts AWS has allow-listed for them; point it at cmd/fakeec2 instead", o.Endpoint)
	}
	var lo []func(*config.LoadOptions) error
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		// A local endpoint checks no signature, but the SDK signs every
		// request: without configured credentials, sign with dummy ones.
		lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDPODSGTUTORIAL", "tutorial", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, "", fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		// A local endpoint answers for any region; the SDK needs one to sign.
		cfg.Region = fake.DefaultRegion
	}
	client := ec2.NewFromConfig(cfg, func(eo *ec2.Options) { eo.BaseEndpoint = aws.String(o.Endpoint) })
	return client, cfg.Region, nil
}

// printer writes the tutorial's output.
type printer struct{ w io.Writer }

func (p printer) f(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

// step prints a step's heading.
func (p printer) step(n, title string) { p.f("\n== %s: %s\n", n, title) }

// cmd prints a command as the person types it.
func (p printer) cmd(format string, args ...any) { p.f("$ "+format+"\n", args...) }
