package ec2doc_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake/internal/ec2doc"
)

// TestTableUpToDate regenerates the table from the SDK version in go.mod and
// fails when inputs_gen.go differs: after an SDK upgrade, or an edit of
// operations.txt without go generate.
func TestTableUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to run docgen")
	out := filepath.Join(t.TempDir(), "inputs_gen.go")
	cmd := exec.Command(goBin, "run", "./docgen", "-ops", "operations.txt", "-o", out)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "docgen failed:\n%s", msg)
	want, err := os.ReadFile(out)
	require.NoError(t, err)
	got, err := os.ReadFile("inputs_gen.go")
	require.NoError(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("inputs_gen.go is stale: run `go generate ./fake/internal/ec2doc` and commit the result")
	}
}

func TestLookup(t *testing.T) {
	in, ok := ec2doc.Lookup("DescribeNetworkInterfaces")
	require.True(t, ok)
	for name, want := range map[string]bool{
		"attachment.instance-id":      true,
		"tag:kubernetes.io/cluster/x": true,
		"tag-key":                     true,
		"tag:":                        false, // a tag filter needs a key
		"tag-value":                   false, // not documented for this operation
		"attachment.nonsense":         false,
		"Attachment.Instance-Id":      false, // names are case-sensitive
	} {
		require.Equal(t, want, in.Documents(name), name)
	}
	require.Equal(t, "NetworkInterfaceIds", in.MaxResultsExcludes)
	sg, _ := ec2doc.Lookup("DescribeSecurityGroups")
	require.Equal(t, [2]int32{5, 1000}, [2]int32{sg.MaxResultsMin, sg.MaxResultsMax})
	_, ok = ec2doc.Lookup("DescribeImages")
	require.False(t, ok)
	require.Contains(t, ec2doc.Operations(), "DescribeTrunkInterfaceAssociations")
}
