package v1beta1

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// generateCommand returns the argument list of the go:generate directive in
// generate.go, so that the test runs exactly what "go generate" runs.
func generateCommand(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("generate.go")
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "//go:generate "); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatal("generate.go has no //go:generate directive")
	return nil
}

// TestGeneratedUpToDate runs controller-gen, at the version pinned in
// generate.go, into a temporary directory and compares its output with the
// checked-in deep-copy code and CRD manifest. The first run downloads
// controller-gen from the module proxy.
func TestGeneratedUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to run controller-gen")

	args := generateCommand(t)
	require.Equal(t, []string{"go", "run"}, args[:2], "go:generate directive should start with go run")
	tmp := t.TempDir()
	var cmdArgs []string
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "output:crd:dir=") {
			a = "output:crd:dir=" + filepath.Join(tmp, "crd")
		}
		cmdArgs = append(cmdArgs, a)
	}
	cmdArgs = append(cmdArgs, "output:object:dir="+tmp)

	cmd := exec.CommandContext(t.Context(), goBin, cmdArgs...)
	cmd.Dir = "."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "controller-gen failed (it is fetched from the module proxy on first use):\n%s\nrun: %s",
		out, strings.Join(args, " "))

	const regen = "the checked-in file is stale: run `go generate ./api/v1beta1` and commit the result"
	for _, name := range []string{
		"zz_generated.deepcopy.go",
		filepath.Join("crd", "vpcresources.k8s.aws_securitygrouppolicies.yaml"),
	} {
		want, err := os.ReadFile(filepath.Join(tmp, name))
		require.NoError(t, err, "controller-gen wrote no %s", name)
		got, err := os.ReadFile(name)
		require.NoError(t, err, regen)
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s: %s (-generated +checked-in):\n%s", name, regen, diff)
		}
	}
	entries, err := os.ReadDir(filepath.Join(tmp, "crd"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "controller-gen wrote CRDs that are not checked in")
}
