package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestFilterNames(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    []string
		wantErr bool
	}{
		{
			name: "bullets with wrapped descriptions",
			doc:  "One or more filters.\n\n  - vpc-id - The ID of the VPC.\n\n  - attachment.status - The status of the attachment ( attaching |\n  attached ).\n",
			want: []string{"attachment.status", "vpc-id"},
		},
		{
			name: "a long name wrapped after its dash",
			doc:  "  -\n  capacity-reservation-specification.capacity-reservation-target.capacity-reservation-id\n  - The ID of the targeted Capacity Reservation.\n\n  - client-token - The token.\n",
			want: []string{"capacity-reservation-specification.capacity-reservation-target.capacity-reservation-id", "client-token"},
		},
		{
			name: "tag:<key> rendered as 'tag :' or as 'tag'",
			doc:  "  - tag : - The key/value combination.\n\n  - tag - The key/value combination. Specify tag:Owner for the filter name.\n\n  - tag-key - The key.\n",
			want: []string{"tag-key", "tag:"},
		},
		{
			name: "nested bullets belong to their parent",
			doc:  "  - interface-type - The type:\n\n    - trunk - a trunk\n\n  - status - The status.\n",
			want: []string{"interface-type", "status"},
		},
		{
			name:    "a bullet without a description",
			doc:     "  - vpc-id\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := filterNames(tt.doc)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filterNames (-want +got):\n%s", diff)
			}
		})
	}
}
