package query_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestShapesUpToDate regenerates the table of response element names from the
// SDK version in go.mod and fails when shapes_gen.go differs, for example
// after an SDK upgrade or an edit of operations.txt without go generate.
func TestShapesUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to run shapegen")
	out := filepath.Join(t.TempDir(), "shapes_gen.go")
	cmd := exec.Command(goBin, "run", "./shapegen", "-ops", "operations.txt", "-o", out)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "shapegen failed:\n%s", msg)

	want, err := os.ReadFile(out)
	require.NoError(t, err)
	got, err := os.ReadFile("shapes_gen.go")
	require.NoError(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("shapes_gen.go is stale: run `go generate ./fake/internal/query` and commit the result")
	}
}
