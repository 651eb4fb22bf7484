package podsg_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/podsg/podsg"

// Import paths the rules keep out of packages.
const (
	ec2SDK    = "github.com/aws/aws-sdk-go-v2/service/ec2"
	netlink   = "github.com/vishvananda/netlink"
	netns     = "github.com/vishvananda/netns"
	goIPTable = "github.com/coreos/go-iptables"
	nftables  = "github.com/google/nftables"
	mdNetlink = "github.com/mdlayher/netlink"
	clientGo  = "k8s.io/client-go"
)

// depRule is a promise about what some packages of this module link.
type depRule struct {
	name string
	// pkgs are the packages the rule holds for, relative to the module
	// ("selector", "api/podeni"); "api/..." means every package below api.
	pkgs []string
	// forbid lists import paths that must not be in the packages'
	// dependencies; a path also forbids the packages below it.
	forbid []string
	// stdOnly allows nothing but the standard library and the packages in
	// allow.
	stdOnly bool
	allow   []string
}

// depRules are the promises this module makes to its users: node-side
// packages do not compile the EC2 SDK, the pool and the selector do not
// link netlink, iptables or nftables, planning (enforce) links none of them,
// the wire format (api/podeni) is standard library only, and the CNI plugin
// (what a fork ships to every node) links neither the EC2 SDK, nor the
// controller's packages, nor client-go.
var depRules = []depRule{
	{
		name:   "node-side packages do not import the EC2 SDK",
		pkgs:   []string{"api/...", "selector", "selector/kube", "limits", "eni", "enforce", "enforce/enforcetest", "enforce/kernel"},
		forbid: []string{ec2SDK},
	},
	{
		name:   "the selector, the pool and planning do not link netlink, go-iptables or nftables",
		pkgs:   []string{"selector", "eni", "enforce", "enforce/enforcetest"},
		forbid: []string{netlink, netns, goIPTable, nftables, mdNetlink},
	},
	{
		name:   "selector and enforce do not import the pool",
		pkgs:   []string{"selector", "enforce"},
		forbid: []string{module + "/eni"},
	},
	{
		name: "the CNI plugin links neither the EC2 SDK, the controller side nor client-go",
		pkgs: []string{"cmd/podsg-cni"},
		forbid: []string{ec2SDK, module + "/trunk", module + "/fake", module + "/preflight", module + "/eni",
			module + "/limits/ec2limits", clientGo},
	},
	{
		name:    "api/podeni is standard library only",
		pkgs:    []string{"api/podeni"},
		stdOnly: true,
		// awsid is this module's ID check, itself standard library only
		// (any dependency it had would show up here too).
		allow: []string{module + "/internal/awsid"},
	},
}

// depGraph is what `go list -deps` says about the module's packages, as
// built for linux/amd64 (where the kernel appliers build).
type depGraph struct {
	std     map[string]bool
	imports map[string][]string
	roots   []string // the module's packages
}

var loadDepGraph = sync.OnceValues(func() (*depGraph, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the dependency test runs `go list`: %w", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}\t{{.Module}}", "./...")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps ./...: %w\n%s", err, stderr.String())
	}
	g := &depGraph{std: map[string]bool{}, imports: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("go list: unexpected line %q", sc.Text())
		}
		path := f[0]
		g.std[path] = f[1] == "true"
		g.imports[path] = strings.Fields(f[2])
		if strings.HasPrefix(f[3], module+" ") || f[3] == module {
			g.roots = append(g.roots, path)
		}
	}
	return g, sc.Err()
})

func depGraphOf(t *testing.T) *depGraph {
	t.Helper()
	g, err := loadDepGraph()
	require.NoError(t, err)
	return g
}

// expand turns a rule's package list into import paths.
func (g *depGraph) expand(pkgs []string) ([]string, error) {
	var out []string
	for _, p := range pkgs {
		if dir, ok := strings.CutSuffix(p, "/..."); ok {
			n := len(out)
			for _, r := range g.roots {
				if r == module+"/"+dir || strings.HasPrefix(r, module+"/"+dir+"/") {
					out = append(out, r)
				}
			}
			if len(out) == n {
				return nil, fmt.Errorf("%s matches no package", p)
			}
			continue
		}
		path := module + "/" + p
		if !slices.Contains(g.roots, path) {
			return nil, fmt.Errorf("no package %s in the module", path)
		}
		out = append(out, path)
	}
	return out, nil
}

// chain returns the import chain from pkg to the first dependency for which
// bad reports true, breadth first (so the shortest), or nil.
func (g *depGraph) chain(pkg string, bad func(string) bool) []string {
	prev := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g.imports[p] {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = p
			if bad(imp) {
				var c []string
				for x := imp; x != ""; x = prev[x] {
					c = append(c, x)
				}
				slices.Reverse(c)
				return c
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

// check returns one line per package of r that breaks it, with the import
// chain that does.
func (g *depGraph) check(r depRule) ([]string, error) {
	pkgs, err := g.expand(r.pkgs)
	if err != nil {
		return nil, err
	}
	bad := func(dep string) bool {
		if r.stdOnly {
			return !g.std[dep] && !slices.Contains(r.allow, dep)
		}
		return slices.ContainsFunc(r.forbid, func(f string) bool { return dep == f || strings.HasPrefix(dep, f+"/") })
	}
	var out []string
	for _, p := range pkgs {
		if c := g.chain(p, bad); c != nil {
			out = append(out, strings.Join(c, " → "))
		}
	}
	return out, nil
}

func TestDependencies(t *testing.T) {
	g := depGraphOf(t)
	for _, r := range depRules {
		t.Run(r.name, func(t *testing.T) {
			violations, err := g.check(r)
			require.NoError(t, err)
			for _, v := range violations {
				t.Errorf("%s: %s", r.name, v)
			}
		})
	}
}

// TestDependencyCheckerCatchesViolations runs the checker on packages known
// to break each kind of rule, so that a checker that sees nothing cannot
// pass TestDependencies.
func TestDependencyCheckerCatchesViolations(t *testing.T) {
	g := depGraphOf(t)
	tests := []struct {
		name string
		rule depRule
		want string // a line the checker must report
	}{
		{"trunk imports the EC2 SDK",
			depRule{pkgs: []string{"selector", "trunk"}, forbid: []string{ec2SDK}},
			module + "/trunk → " + ec2SDK},
		{"the EC2 SDK found through another package",
			depRule{pkgs: []string{"cmd/fakeec2"}, forbid: []string{ec2SDK}},
			module + "/cmd/fakeec2 → " + module + "/"},
		{"the kernel appliers link netlink",
			depRule{pkgs: []string{"enforce", "enforce/kernel"}, forbid: []string{netlink, netns, goIPTable}},
			module + "/enforce/kernel → "},
		{"the kernel appliers link nftables",
			depRule{pkgs: []string{"enforce/enforcetest", "enforce/kernel"}, forbid: []string{nftables}},
			module + "/enforce/kernel → " + nftables},
		{"trunk imports the pool",
			depRule{pkgs: []string{"trunk"}, forbid: []string{module + "/eni"}},
			module + "/trunk → " + module + "/eni"},
		{"api/v1beta1 is not standard library only",
			depRule{pkgs: []string{"api/..."}, stdOnly: true, allow: []string{module + "/internal/awsid"}},
			module + "/api/v1beta1 → k8s.io/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			violations, err := g.check(tt.rule)
			require.NoError(t, err)
			require.Len(t, violations, 1, "only the offending package is reported: %q", violations)
			require.True(t, strings.HasPrefix(violations[0], tt.want), "the checker reported %q, want a chain starting %q", violations[0], tt.want)
		})
	}

	// A rule naming a package that does not exist is an error, not a pass.
	_, err := g.check(depRule{pkgs: []string{"selektor"}, forbid: []string{ec2SDK}})
	require.ErrorContains(t, err, "no package "+module+"/selektor", "a rule about a missing package must fail")
	_, err = g.check(depRule{pkgs: []string{"apj/..."}, forbid: []string{ec2SDK}})
	require.ErrorContains(t, err, "apj/... matches no package")
}
