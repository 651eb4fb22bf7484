package limits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

// MaxOverridesSize is the largest overrides input DecodeOverrides and
// LoadOverrides accept, in bytes.
const MaxOverridesSize = 8 << 20

// WithOverrides returns a new table holding the rows of t plus ls. An
// override replaces t's row of the same instance type entirely (there are
// no partial overrides: give every field); other overrides add types t
// lacks. t itself is not changed, and the new table keeps no reference to ls.
//
// Every override is checked with Limits.Validate, and an instance type may
// appear only once in ls. On any violation WithOverrides returns a nil table
// and a FieldErrors listing every problem of every override, each located as
// "overrides[i]"; it matches ErrInvalidLimits. With no overrides it returns t.
func (t *Table) WithOverrides(ls ...Limits) (*Table, error) {
	if len(ls) == 0 {
		return t, nil
	}
	var errs FieldErrors
	seen := make(map[string]int, len(ls))
	for i, l := range ls {
		where := fmt.Sprintf("overrides[%d]", i)
		errs = append(errs, l.validate(where)...)
		if l.InstanceType == "" {
			continue
		}
		if j, dup := seen[l.InstanceType]; dup {
			errs = append(errs, &FieldError{
				Where: where, InstanceType: l.InstanceType, Field: "instanceType", Value: l.InstanceType,
				Reason: fmt.Sprintf("also given as overrides[%d]; give each type once", j),
			})
			continue
		}
		seen[l.InstanceType] = i
	}
	if len(errs) > 0 {
		return nil, errs
	}
	rows := make([]Limits, 0, len(t.rows)+len(ls))
	for _, r := range t.rows {
		if _, replaced := seen[r.InstanceType]; !replaced {
			rows = append(rows, r)
		}
	}
	for _, l := range ls {
		rows = append(rows, l.Clone())
	}
	return newTable(rows, t.base, t.overrides+len(ls)), nil
}

// WithOverrides returns the built-in table plus ls: Default().WithOverrides(ls...).
func WithOverrides(ls ...Limits) (*Table, error) { return defaultTable.WithOverrides(ls...) }

// LoadOverrides reads the overrides file at path (JSON or YAML, in the format
// the package documentation describes) and returns its rows, ready for
// WithOverrides. Errors name the file, and for a bad row its position
// ("instanceTypes[2]"), its type and the field.
func LoadOverrides(path string) ([]Limits, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("limits: reading overrides: %w", err)
	}
	defer f.Close() //nolint:errcheck // opened read-only: Close has nothing to flush
	return decodeOverrides(f, path)
}

// DecodeOverrides reads an overrides document (JSON or YAML, in the format
// the package documentation describes) from r and returns its rows in
// document order, ready for WithOverrides. It reads at most MaxOverridesSize
// bytes.
//
// A document that does not parse, has unknown fields or lacks the
// instanceTypes list gives a plain error. Rows are then checked: every field
// is required, an instance type may appear once, and each row must pass
// Limits.Validate; violations come back together as a FieldErrors (matching
// ErrInvalidLimits), each located as "instanceTypes[i]".
func DecodeOverrides(r io.Reader) ([]Limits, error) { return decodeOverrides(r, "") }

// fileCard and fileRow mirror NetworkCard and Limits with pointer fields, so
// that a missing field can be told apart from a zero one.
type fileCard struct {
	Index   *int `json:"index"`
	MaxENIs *int `json:"maxENIs"`
}

type fileRow struct {
	InstanceType       *string     `json:"instanceType"`
	MaxENIs            *int        `json:"maxENIs"`
	IPv4PerENI         *int        `json:"ipv4PerENI"`
	TrunkingCompatible *bool       `json:"trunkingCompatible"`
	MaxBranchENIs      *int        `json:"maxBranchENIs"`
	DefaultNetworkCard *int        `json:"defaultNetworkCard"`
	NetworkCards       *[]fileCard `json:"networkCards"`
	Hypervisor         *string     `json:"hypervisor"`
	BareMetal          *bool       `json:"bareMetal"`
}

type overridesFile struct {
	InstanceTypes *[]fileRow `json:"instanceTypes"`
}

func decodeOverrides(r io.Reader, name string) ([]Limits, error) {
	where := func(i int) string {
		if name == "" {
			return fmt.Sprintf("instanceTypes[%d]", i)
		}
		return fmt.Sprintf("%s: instanceTypes[%d]", name, i)
	}
	prefix := "limits: overrides: "
	if name != "" {
		prefix = "limits: " + name + ": "
	}

	data, err := io.ReadAll(io.LimitReader(r, MaxOverridesSize+1))
	if err != nil {
		return nil, fmt.Errorf("%sreading: %w", prefix, err)
	}
	if len(data) > MaxOverridesSize {
		return nil, fmt.Errorf("%slarger than %d bytes; split it or trim it to the types you need", prefix, MaxOverridesSize)
	}
	var f overridesFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%snot a valid overrides document (format: go doc github.com/podsg/podsg/limits): %w", prefix, err)
	}
	if f.InstanceTypes == nil {
		return nil, fmt.Errorf("%sno instanceTypes list; an overrides document is an object with one key, "+
			"instanceTypes, holding a list of rows (format: go doc github.com/podsg/podsg/limits)", prefix)
	}

	rows := *f.InstanceTypes
	out := make([]Limits, 0, len(rows))
	var errs FieldErrors
	seen := make(map[string]int, len(rows))
	for i, fr := range rows {
		l, missing := fr.limits()
		for _, field := range missing {
			errs = append(errs, &FieldError{
				Where: where(i), InstanceType: l.InstanceType, Field: field,
				Reason: "required: an override is a full row, so give every field (see the format in package limits)",
			})
		}
		if len(missing) == 0 {
			errs = append(errs, l.validate(where(i))...)
		}
		if l.InstanceType != "" {
			if j, dup := seen[l.InstanceType]; dup {
				errs = append(errs, &FieldError{
					Where: where(i), InstanceType: l.InstanceType, Field: "instanceType", Value: l.InstanceType,
					Reason: fmt.Sprintf("also listed as instanceTypes[%d]; list each type once", j),
				})
			} else {
				seen[l.InstanceType] = i
			}
		}
		out = append(out, l)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// limits converts r into Limits and lists the fields r lacks.
func (r fileRow) limits() (Limits, []string) {
	var l Limits
	var missing []string
	str := func(p *string, field string) string {
		if p == nil {
			missing = append(missing, field)
			return ""
		}
		return *p
	}
	num := func(p *int, field string) int {
		if p == nil {
			missing = append(missing, field)
			return 0
		}
		return *p
	}
	flag := func(p *bool, field string) bool {
		if p == nil {
			missing = append(missing, field)
			return false
		}
		return *p
	}
	l.InstanceType = str(r.InstanceType, "instanceType")
	l.MaxENIs = num(r.MaxENIs, "maxENIs")
	l.IPv4PerENI = num(r.IPv4PerENI, "ipv4PerENI")
	l.TrunkingCompatible = flag(r.TrunkingCompatible, "trunkingCompatible")
	l.MaxBranchENIs = num(r.MaxBranchENIs, "maxBranchENIs")
	l.DefaultNetworkCard = num(r.DefaultNetworkCard, "defaultNetworkCard")
	if r.NetworkCards == nil {
		missing = append(missing, "networkCards")
	} else {
		l.NetworkCards = make([]NetworkCard, len(*r.NetworkCards))
		for i, c := range *r.NetworkCards {
			l.NetworkCards[i] = NetworkCard{
				Index:   num(c.Index, fmt.Sprintf("networkCards[%d].index", i)),
				MaxENIs: num(c.MaxENIs, fmt.Sprintf("networkCards[%d].maxENIs", i)),
			}
		}
	}
	l.Hypervisor = str(r.Hypervisor, "hypervisor")
	l.BareMetal = flag(r.BareMetal, "bareMetal")
	return l, missing
}

// MarshalOverrides encodes ls as an overrides document (indented JSON, which
// is also valid YAML) that DecodeOverrides and LoadOverrides read back to the
// same rows. It refuses rows that WithOverrides would refuse, with the same
// FieldErrors.
func MarshalOverrides(ls ...Limits) ([]byte, error) {
	if _, err := (&Table{}).WithOverrides(ls...); err != nil {
		return nil, err
	}
	rows := ls
	if rows == nil {
		rows = []Limits{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		InstanceTypes []Limits `json:"instanceTypes"`
	}{rows}); err != nil {
		return nil, fmt.Errorf("limits: encoding overrides: %w", err)
	}
	return b.Bytes(), nil
}
