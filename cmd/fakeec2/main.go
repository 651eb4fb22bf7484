// Command fakeec2 serves the podsg EC2 fake over HTTP, like moto's server
// mode: any SDK or the AWS CLI can talk to it with an endpoint override.
//
//	go run ./cmd/fakeec2 -listen 127.0.0.1:0 -scenario tutorial
//
// The first line on standard output is one JSON object with the endpoint,
// the region and, for the tutorial scenario, the IDs it seeded (the fields of
// fake.Tutorial, such as podSecurityGroupId and dnsTcpRuleId), so scripts can
// read it before sending requests:
//
//	{"endpoint":"http://127.0.0.1:40123","region":"us-west-2","scenario":"tutorial","vpcId":"vpc-…",…}
//
// Then point a client at the endpoint, with any credentials:
//
//	aws ec2 describe-network-interfaces --endpoint-url http://127.0.0.1:40123 --region us-west-2
//
// Requests must be SigV4-signed (every SDK and the CLI do so); signatures are
// not checked. The process serves until SIGINT or SIGTERM, then stops
// accepting connections, waits up to -grace for requests in flight and exits
// with status 0. Logs go to standard error.
//
// Flags:
//
//	-listen     address to listen on (default 127.0.0.1:0, a free port)
//	-scenario   tutorial (the EKS "Security groups for pods" starting point),
//	            tutorial-ipv6 (the same for an IPv6 cluster: dual-stack VPC and
//	            subnets, nodes with IPv6 addresses) or empty
//	-region     region the fake pretends to be (default us-west-2)
//	-throttle   EC2's token-bucket throttling (default true)
//	-latency    delay added to every call, e.g. 50ms (default 0)
//	-eventual   EC2's eventual consistency (fake.EventualConsistency): new IDs
//	            unknown for a moment, Describe calls lagging behind changes
//	            (default false: strongly consistent)
//	-seed       seed of IDs and other pseudo-random choices (default: the fake's)
//	-grace      how long shutdown waits for requests in flight (default 10s)
//	-v          log every request at debug level
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/podsg/podsg/fake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "fakeec2:", err)
		os.Exit(1)
	}
}

// banner is the first line written to standard output.
type banner struct {
	Endpoint string `json:"endpoint"`
	Region   string `json:"region"`
	Scenario string `json:"scenario"`
	*fake.Tutorial
}

type config struct {
	listen   string
	scenario string
	region   string
	throttle bool
	latency  time.Duration
	eventual bool
	seed     uint64
	grace    time.Duration
	verbose  bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fakeec2", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
	fs.StringVar(&c.scenario, "scenario", "tutorial", "state to seed: tutorial, tutorial-ipv6 or empty")
	fs.StringVar(&c.region, "region", fake.DefaultRegion, "region the fake pretends to be")
	fs.BoolVar(&c.throttle, "throttle", true, "throttle with EC2's token buckets (RequestLimitExceeded, HTTP 503)")
	fs.DurationVar(&c.latency, "latency", 0, "delay added to every call")
	fs.BoolVar(&c.eventual, "eventual", false, "EC2's eventual consistency: new IDs unknown for a moment, Describe calls lagging behind changes")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of IDs and pseudo-random choices (0: the fake's default)")
	fs.DurationVar(&c.grace, "grace", 10*time.Second, "how long shutdown waits for requests in flight")
	fs.BoolVar(&c.verbose, "v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q; all settings are flags (see -h)", fs.Args())
	}
	switch c.scenario {
	case "tutorial", "tutorial-ipv6", "empty":
	default:
		return c, fmt.Errorf("-scenario %q is unknown; use tutorial, tutorial-ipv6 or empty", c.scenario)
	}
	if c.latency < 0 {
		return c, fmt.Errorf("-latency %v is negative", c.latency)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	o := fake.Options{
		Region:            c.region,
		Seed:              c.seed,
		DisableThrottling: !c.throttle,
		Logger:            logger,
	}
	if c.eventual {
		o.Consistency = fake.EventualConsistency()
	}
	f := fake.New(o)
	if c.latency > 0 {
		f.SetLatency("", fake.Latency{Base: c.latency})
	}
	b := banner{Region: f.Region(), Scenario: c.scenario}
	seed := map[string]func(context.Context, *fake.EC2) (fake.Tutorial, error){
		"tutorial":      fake.SeedTutorial,
		"tutorial-ipv6": fake.SeedTutorialIPv6,
	}[c.scenario]
	if seed != nil {
		t, err := seed(ctx, f)
		if err != nil {
			return fmt.Errorf("seed the %s scenario: %w", c.scenario, err)
		}
		b.Tutorial = &t
	}

	srv, err := fake.NewServer(f, fake.ServerOptions{Logger: logger})
	if err != nil {
		return err
	}
	if err := srv.Start(c.listen); err != nil {
		return err
	}
	b.Endpoint = srv.URL()
	line, err := json.Marshal(b)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("encode the banner: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		_ = srv.Close()
		return fmt.Errorf("write the banner: %w", err)
	}
	logger.Info("serving EC2", "endpoint", b.Endpoint, "region", b.Region, "scenario", c.scenario,
		"operations", len(srv.Operations()), "throttle", c.throttle, "eventual", c.eventual)

	<-ctx.Done()
	logger.Info("shutting down", "grace", c.grace)
	sctx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return err
	}
	logger.Info("stopped")
	return nil
}
