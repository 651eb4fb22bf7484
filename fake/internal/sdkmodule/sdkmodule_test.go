package sdkmodule

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadOps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "operations.txt")
	require.NoError(t, os.WriteFile(path, []byte("# Describe operations\nDescribeVpcs\n\n  DescribeSubnets  \nDescribeVpcs\n#DescribeInstances\n"), 0o644))
	ops, err := ReadOps(path)
	require.NoError(t, err)
	require.Equal(t, []string{"DescribeSubnets", "DescribeVpcs"}, ops)

	_, err = ReadOps(filepath.Join(t.TempDir(), "missing.txt"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestDir(t *testing.T) {
	dir, version, err := Dir()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "api_op_DescribeNetworkInterfaces.go"))
	require.Regexp(t, `^v1\.\d+\.\d+$`, version)
}
