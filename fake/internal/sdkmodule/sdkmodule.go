// Package sdkmodule holds what the fake's code generators share: where the
// aws-sdk-go-v2 EC2 module of go.mod lives, and the list of operations a
// generator covers.
package sdkmodule

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// EC2 is the module path of the SDK's EC2 client.
const EC2 = "github.com/aws/aws-sdk-go-v2/service/ec2"

// Dir returns the directory and version of the EC2 module that go.mod
// requires, as go list reports them. The module must be downloaded.
func Dir() (dir, version string, err error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", EC2)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("locate %s: %w (run go mod download)", EC2, err)
	}
	parts := strings.Fields(string(b))
	if len(parts) != 2 {
		return "", "", fmt.Errorf("locate %s: unexpected go list output %q", EC2, b)
	}
	return parts[0], parts[1], nil
}

// ReadOps reads an operations file: one EC2 operation name per line, blank
// lines and lines starting with # ignored. It returns the names sorted, each
// once.
func ReadOps(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ops []string
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ops = append(ops, line)
	}
	slices.Sort(ops)
	return slices.Compact(ops), nil
}
