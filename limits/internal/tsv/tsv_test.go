package tsv_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/limits/internal/tsv"
)

const head = tsv.Header + "\n"

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []tsv.Row
		wantErr string
	}{
		{name: "rows", in: head +
			"m5.large\t3\t10\ttrue\t9\t0\t0:3\tnitro\tfalse\n" +
			"\n" +
			"p9.metal\t8\t50\ttrue\t62\t1\t0:4;1:4\t\ttrue\r\n",
			want: []tsv.Row{
				{InstanceType: "m5.large", MaxENIs: 3, IPv4PerENI: 10, TrunkingCompatible: true, MaxBranchENIs: 9,
					NetworkCards: []tsv.Card{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro"},
				{InstanceType: "p9.metal", MaxENIs: 8, IPv4PerENI: 50, TrunkingCompatible: true, MaxBranchENIs: 62,
					DefaultNetworkCard: 1, NetworkCards: []tsv.Card{{Index: 0, MaxENIs: 4}, {Index: 1, MaxENIs: 4}}, BareMetal: true},
			}},
		{name: "header only", in: head},
		{name: "empty", in: "", wantErr: "line 1: empty input"},
		{name: "bad header", in: "type\tenis\n", wantErr: "line 1: header"},
		{name: "columns", in: head + "m5.large\t3\n", wantErr: "line 2: 2 columns"},
		{name: "number", in: head + "m5.large\tthree\t10\ttrue\t9\t0\t0:3\tnitro\tfalse\n", wantErr: `line 2: interfaces "three"`},
		{name: "negative", in: head + "m5.large\t3\t-1\ttrue\t9\t0\t0:3\tnitro\tfalse\n", wantErr: `line 2: ipv4_per_interface "-1"`},
		{name: "bool", in: head + "m5.large\t3\t10\tyes\t9\t0\t0:3\tnitro\tfalse\n", wantErr: `line 2: is_trunking_compatible "yes"`},
		{name: "empty type", in: head + "\t3\t10\ttrue\t9\t0\t0:3\tnitro\tfalse\n", wantErr: "line 2: empty instance_type"},
		{name: "card", in: head + "m5.large\t3\t10\ttrue\t9\t0\t0-3\tnitro\tfalse\n", wantErr: `line 2: network_cards entry "0-3"`},
		{name: "duplicate", in: head +
			"m5.large\t3\t10\ttrue\t9\t0\t0:3\tnitro\tfalse\n" +
			"m5.large\t3\t10\ttrue\t9\t0\t0:3\tnitro\tfalse\n", wantErr: `line 3: instance type "m5.large" already on line 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := tsv.Parse(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderIsGo(t *testing.T) {
	rows := []tsv.Row{{InstanceType: `odd"name`, MaxENIs: 1, IPv4PerENI: 2, NetworkCards: []tsv.Card{{0, 1}}, Hypervisor: "xen"}}
	src, err := tsv.Render(rows)
	require.NoError(t, err)
	_, err = parser.ParseFile(token.NewFileSet(), "zz.go", src, 0)
	require.NoError(t, err)
	require.Contains(t, string(src), `{InstanceType: "odd\"name", MaxENIs: 1, IPv4PerENI: 2, TrunkingCompatible: false, MaxBranchENIs: 0, DefaultNetworkCard: 0, NetworkCards: []NetworkCard{{0, 1}}, Hypervisor: "xen", BareMetal: false},`)
}

// format writes rows back as a data file.
func format(rows []tsv.Row) string {
	var b strings.Builder
	b.WriteString(head)
	for _, r := range rows {
		cards := make([]string, len(r.NetworkCards))
		for i, c := range r.NetworkCards {
			cards[i] = fmt.Sprintf("%d:%d", c.Index, c.MaxENIs)
		}
		fmt.Fprintf(&b, "%s\t%d\t%d\t%t\t%d\t%d\t%s\t%s\t%t\n", r.InstanceType, r.MaxENIs, r.IPv4PerENI,
			r.TrunkingCompatible, r.MaxBranchENIs, r.DefaultNetworkCard, strings.Join(cards, ";"), r.Hypervisor, r.BareMetal)
	}
	return b.String()
}

func FuzzParse(f *testing.F) {
	f.Add(head + "m5.large\t3\t10\ttrue\t9\t0\t0:3\tnitro\tfalse\n")
	f.Add(head + "p9.metal\t8\t50\ttrue\t62\t1\t0:4;1:4\t\ttrue\r\n\n")
	f.Add(head + "a\t1\t1\tfalse\t0\t0\t0:1\txen\tfalse\na\t1\t1\tfalse\t0\t0\t0:1\txen\tfalse\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := tsv.Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		// Parsed rows render to Go source and survive a round trip.
		src, err := tsv.Render(rows)
		require.NoError(t, err)
		_, err = parser.ParseFile(token.NewFileSet(), "zz.go", src, 0)
		require.NoError(t, err)
		again, err := tsv.Parse(strings.NewReader(format(rows)))
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(rows, again))
	})
}
