// Command podsg answers the questions a person asks about security groups for
// pods at a terminal:
//
//	podsg limits m5.large c6g.xlarge          branch ENIs, ENIs, IPs, max pods, trunking
//	podsg match -f policies.yaml -f pods.yaml which groups each pod gets, and why
//	podsg plan --annotation '<json>' ...      the node rules for a pod, as a script
//	podsg preflight --cluster cluster.yaml -f policies.yaml
//	                                          what would leave pods stuck, checked against EC2
//
// It follows the conventions of the Kubernetes tools: manifests are read with
// -f (a file, a directory of .yaml/.yml/.json files, or - for standard input,
// repeatable), -o selects the output format (text, wide, json, yaml), and flags
// may come before or after the arguments.
//
// Exit status: 0 on success; 1 when the command could not do its work (an
// unreadable manifest, an unknown instance type, an EC2 call that failed);
// 2 for a usage error (unknown command or flag, missing argument); 3 when
// podsg preflight ran and found errors that would leave pods stuck.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitFindings = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := newCLI(os.Stdin, os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// cli is one invocation's environment: its standard streams and how it
// reaches EC2. Tests build one with buffers and the fake EC2.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// newEC2 returns the EC2 client of podsg preflight and limits --ec2.
	newEC2 func(ctx context.Context, o ec2Options) (ec2Client, error)
}

func newCLI(stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{stdin: stdin, stdout: stdout, stderr: stderr, newEC2: sdkEC2}
}

type command struct {
	name    string
	summary string
	run     func(c *cli, ctx context.Context, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"limits", "networking limits of instance types: branch ENIs, ENIs, IPs, max pods", (*cli).limits},
		{"match", "which security groups each pod gets from the SecurityGroupPolicies, and why", (*cli).match},
		{"plan", "the node-side network plan of a pod's branch ENI, as a shell script", (*cli).plan},
		{"preflight", "check policies and a cluster description against EC2 before creating pods", (*cli).preflight},
	}
}

const usageText = `podsg answers questions about security groups for pods.

Usage:
  podsg <command> [flags] [arguments]

Commands:
%s
Run 'podsg <command> -h' for the flags of a command.

Exit status: 0 success, 1 failure, 2 usage error, 3 preflight found errors.
`

func (c *cli) usage(w io.Writer) {
	var b strings.Builder
	for _, cmd := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, usageText, b.String())
}

// run executes one command line (without the program name) and returns the
// exit status.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		c.usage(c.stdout)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name != args[0] {
			continue
		}
		err := cmd.run(c, ctx, args[1:])
		return c.exit(cmd.name, err)
	}
	fmt.Fprintf(c.stderr, "podsg: unknown command %q; the commands are %s (run 'podsg help')\n", args[0], commandNames())
	return exitUsage
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, cmd := range commands {
		names[i] = cmd.name
	}
	return strings.Join(names, ", ")
}

// exit reports err on standard error and maps it to an exit status.
func (c *cli) exit(name string, err error) int {
	var ue *usageError
	var fe *findingsError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(c.stderr, "podsg %s: %s\n", name, ue.msg)
		}
		fmt.Fprintf(c.stderr, "Run 'podsg %s -h' for usage.\n", name)
		return exitUsage
	case errors.As(err, &fe):
		fmt.Fprintf(c.stderr, "podsg %s: %s\n", name, fe.msg)
		return exitFindings
	default:
		fmt.Fprintf(c.stderr, "podsg %s: %v\n", name, err)
		return exitFailure
	}
}

// usageError is a command line podsg cannot interpret.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// findingsError says that a check ran and found problems.
type findingsError struct{ msg string }

func (e *findingsError) Error() string { return e.msg }

// flagSet returns a flag set for a command whose usage lists the synopsis,
// the description and the flags.
func (c *cli) flagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("podsg "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: podsg %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args with fs, allowing flags after positional arguments as
// kubectl does, and returns the positional arguments. -h prints the usage to
// standard output and returns flag.ErrHelp.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(c.stderr)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(c.stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// outputFlag registers -o and --output on fs with the allowed formats.
func outputFlag(fs *flag.FlagSet, def string, allowed ...string) *string {
	p := new(string)
	help := "output format: " + strings.Join(allowed, ", ")
	fs.StringVar(p, "o", def, help)
	fs.StringVar(p, "output", def, "same as -o")
	return p
}

func checkOutput(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usagef("unknown output format -o %q; use one of %s", got, strings.Join(allowed, ", "))
}
