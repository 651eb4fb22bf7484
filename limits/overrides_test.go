package limits_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/limits"
)

// docExample returns the overrides file shown in the package documentation,
// so that the documented format is tested.
func docExample(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var b strings.Builder
	in := false
	for line := range strings.Lines(string(src)) {
		switch {
		case strings.HasPrefix(line, "//\t# overrides.yaml"):
			in = true
		case in && strings.HasPrefix(line, "//\t"):
			b.WriteString(strings.TrimPrefix(line, "//\t"))
		case in:
			return b.String()
		}
	}
	t.Fatal("doc.go has no overrides.yaml example")
	return ""
}

func TestDocumentedExampleLoads(t *testing.T) {
	rows, err := limits.DecodeOverrides(strings.NewReader(docExample(t)))
	require.NoError(t, err)
	want := []limits.Limits{
		{
			InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10, TrunkingCompatible: true, MaxBranchENIs: 9,
			NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro",
		},
		{
			InstanceType: "m9.metal-48xl", MaxENIs: 30, IPv4PerENI: 50, TrunkingCompatible: true, MaxBranchENIs: 120,
			NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 15}, {Index: 1, MaxENIs: 15}}, BareMetal: true,
		},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
	table, err := limits.WithOverrides(rows...)
	require.NoError(t, err)
	l, err := table.Lookup("m9.metal-48xl")
	require.NoError(t, err)
	require.Equal(t, 15*49+2, limits.MaxPods(l))
}

const jsonDoc = `{"instanceTypes": [
  {"instanceType": "x9.large", "maxENIs": 2, "ipv4PerENI": 4, "trunkingCompatible": false,
   "maxBranchENIs": 0, "defaultNetworkCard": 0, "networkCards": [{"index": 0, "maxENIs": 2}],
   "hypervisor": "xen", "bareMetal": false}
]}`

func TestDecodeOverrides(t *testing.T) {
	x9 := limits.Limits{
		InstanceType: "x9.large", MaxENIs: 2, IPv4PerENI: 4,
		NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 2}}, Hypervisor: "xen",
	}
	tests := []struct {
		name    string
		doc     string
		want    []limits.Limits
		wantErr string // substring of a plain (non-field) error
	}{
		{name: "json", doc: jsonDoc, want: []limits.Limits{x9}},
		{name: "no rows", doc: "instanceTypes: []\n", want: []limits.Limits{}},
		{name: "yaml flow style", doc: `instanceTypes: [{instanceType: x9.large, maxENIs: 2, ipv4PerENI: 4,
  trunkingCompatible: false, maxBranchENIs: 0, defaultNetworkCard: 0,
  networkCards: [{index: 0, maxENIs: 2}], hypervisor: xen, bareMetal: false}]`, want: []limits.Limits{x9}},

		{name: "empty", doc: "", wantErr: "no instanceTypes list"},
		{name: "comments only", doc: "# nothing\n", wantErr: "no instanceTypes list"},
		{name: "null list", doc: "instanceTypes: null\n", wantErr: "no instanceTypes list"},
		{name: "bare list", doc: "- instanceType: m9.large\n", wantErr: "not a valid overrides document"},
		{name: "syntax", doc: "instanceTypes: [\n", wantErr: "not a valid overrides document"},
		{name: "json syntax", doc: `{"instanceTypes": [}`, wantErr: "not a valid overrides document"},
		{name: "unknown top-level key", doc: "instanceTypes: []\nversion: 2\n", wantErr: `unknown field "version"`},
		{name: "unknown row key", doc: strings.Replace(jsonDoc, `"bareMetal"`, `"metal": true, "bareMetal"`, 1), wantErr: `unknown field "metal"`},
		{name: "duplicate key", doc: "instanceTypes: []\ninstanceTypes: []\n", wantErr: "not a valid overrides document"},
		{name: "float count", doc: strings.Replace(jsonDoc, `"maxENIs": 2,`, `"maxENIs": 2.5,`, 1), wantErr: "not a valid overrides document"},
		{name: "string count", doc: strings.Replace(jsonDoc, `"maxENIs": 2,`, `"maxENIs": "two",`, 1), wantErr: "not a valid overrides document"},
		{name: "huge count", doc: strings.Replace(jsonDoc, `"maxENIs": 2,`, `"maxENIs": 99999999999999999999999,`, 1), wantErr: "not a valid overrides document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := limits.DecodeOverrides(strings.NewReader(tt.doc))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotErrorIs(t, err, limits.ErrInvalidLimits)
				require.Nil(t, rows)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeOverridesFieldErrors(t *testing.T) {
	doc := `instanceTypes:
  - instanceType: m9.large          # valid
    maxENIs: 3
    ipv4PerENI: 10
    trunkingCompatible: true
    maxBranchENIs: 9
    defaultNetworkCard: 0
    networkCards: [{index: 0, maxENIs: 3}]
    hypervisor: nitro
    bareMetal: false
  - instanceType: m9.xlarge         # fields missing, a card without its index
    maxENIs: 4
    trunkingCompatible: true
    maxBranchENIs: 18
    networkCards: [{maxENIs: 4}]
    bareMetal: false
  - instanceType: m9.large          # listed twice, and trunking with 0 branch ENIs
    maxENIs: 3
    ipv4PerENI: 10
    trunkingCompatible: true
    maxBranchENIs: 0
    defaultNetworkCard: 0
    networkCards: [{index: 0, maxENIs: 2}]
    hypervisor: nitro
    bareMetal: false
  - null
`
	rows, err := limits.DecodeOverrides(strings.NewReader(doc))
	require.Nil(t, rows)
	require.ErrorIs(t, err, limits.ErrInvalidLimits)
	var fes limits.FieldErrors
	require.ErrorAs(t, err, &fes)
	type loc struct{ Where, InstanceType, Field string }
	var got []loc
	for _, fe := range fes {
		got = append(got, loc{fe.Where, fe.InstanceType, fe.Field})
	}
	want := []loc{
		{"instanceTypes[1]", "m9.xlarge", "ipv4PerENI"},
		{"instanceTypes[1]", "m9.xlarge", "defaultNetworkCard"},
		{"instanceTypes[1]", "m9.xlarge", "networkCards[0].index"},
		{"instanceTypes[1]", "m9.xlarge", "hypervisor"},
		{"instanceTypes[2]", "m9.large", "maxBranchENIs"},
		{"instanceTypes[2]", "m9.large", "networkCards"},
		{"instanceTypes[2]", "m9.large", "instanceType"},
		{"instanceTypes[3]", "", "instanceType"},
		{"instanceTypes[3]", "", "maxENIs"},
		{"instanceTypes[3]", "", "ipv4PerENI"},
		{"instanceTypes[3]", "", "trunkingCompatible"},
		{"instanceTypes[3]", "", "maxBranchENIs"},
		{"instanceTypes[3]", "", "defaultNetworkCard"},
		{"instanceTypes[3]", "", "networkCards"},
		{"instanceTypes[3]", "", "hypervisor"},
		{"instanceTypes[3]", "", "bareMetal"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	require.Contains(t, err.Error(), "instanceTypes[2] (m9.large): instanceType = \"m9.large\": also listed as instanceTypes[0]")
	require.Contains(t, err.Error(), "instanceTypes[1] (m9.xlarge): ipv4PerENI: required")
}

func TestLoadOverrides(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "overrides.json")
	require.NoError(t, os.WriteFile(good, []byte(jsonDoc), 0o600))
	rows, err := limits.LoadOverrides(good)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "x9.large", rows[0].InstanceType)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(jsonDoc, `"ipv4PerENI": 4`, `"ipv4PerENI": -4`, 1)), 0o600))
	_, err = limits.LoadOverrides(bad)
	require.ErrorIs(t, err, limits.ErrInvalidLimits)
	require.ErrorContains(t, err, "limits: "+bad+": instanceTypes[0] (x9.large): ipv4PerENI = -4: must be at least 1")

	broken := filepath.Join(dir, "broken.yaml")
	require.NoError(t, os.WriteFile(broken, []byte("instanceTypes: {"), 0o600))
	_, err = limits.LoadOverrides(broken)
	require.ErrorContains(t, err, "limits: "+broken+": not a valid overrides document")

	_, err = limits.LoadOverrides(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestDecodeOverridesTooLarge(t *testing.T) {
	doc := "instanceTypes: []\n" + strings.Repeat("#", limits.MaxOverridesSize)
	_, err := limits.DecodeOverrides(strings.NewReader(doc))
	require.ErrorContains(t, err, "larger than")
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDecodeOverridesReadError(t *testing.T) {
	_, err := limits.DecodeOverrides(failingReader{})
	require.ErrorContains(t, err, "disk on fire")
}

func TestMarshalOverridesRoundTrip(t *testing.T) {
	rows := []limits.Limits{good()}
	for _, name := range []string{"c6in.32xlarge", "m5.metal", "c4.large"} {
		l, err := limits.Lookup(name)
		require.NoError(t, err)
		rows = append(rows, l)
	}
	doc, err := limits.MarshalOverrides(rows...)
	require.NoError(t, err)
	back, err := limits.DecodeOverrides(bytes.NewReader(doc))
	require.NoError(t, err)
	if diff := cmp.Diff(rows, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}

	empty, err := limits.MarshalOverrides()
	require.NoError(t, err)
	back, err = limits.DecodeOverrides(bytes.NewReader(empty))
	require.NoError(t, err)
	require.Empty(t, back)

	bad := good()
	bad.MaxENIs = 0
	_, err = limits.MarshalOverrides(bad)
	require.ErrorIs(t, err, limits.ErrInvalidLimits)
}

func FuzzDecodeOverrides(f *testing.F) {
	f.Add(docExample(f))
	f.Add(jsonDoc)
	f.Add("instanceTypes: []\n")
	f.Add("instanceTypes:\n  - null\n")
	f.Add("instanceTypes: [{instanceType: a.b, networkCards: [{index: 0}, {}]}]")
	f.Add("instanceTypes: &a [*a]")
	f.Add(`{"instanceTypes": [{"INSTANCETYPE": "m9.large"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		rows, err := limits.DecodeOverrides(strings.NewReader(doc))
		if err != nil {
			require.Nil(t, rows)
			var fes limits.FieldErrors
			if errors.As(err, &fes) {
				require.NotEmpty(t, fes)
				for _, fe := range fes {
					require.NotEmpty(t, fe.Field)
					require.NotEmpty(t, fe.Reason)
					require.True(t, strings.HasPrefix(fe.Where, "instanceTypes["), fe.Where)
				}
			}
			return
		}
		// Whatever decodes is a valid set of overrides, and survives a
		// round trip through MarshalOverrides.
		table, err := (&limits.Table{}).WithOverrides(rows...)
		require.NoError(t, err)
		require.Equal(t, len(rows), table.Len())
		doc2, err := limits.MarshalOverrides(rows...)
		require.NoError(t, err)
		back, err := limits.DecodeOverrides(bytes.NewReader(doc2))
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(rows, back))
	})
}
