// Command docgen writes the table of what aws-sdk-go-v2 documents about the
// inputs of EC2's Describe operations: the filter names each operation
// accepts, the range of MaxResults, and which ID list MaxResults excludes.
//
// aws-sdk-go-v2 renders the EC2 service model's documentation into the doc
// comments of each operation's Input type (service/ec2/api_op_<Op>.go). The
// comment of the Filters field lists the operation's filters, one bullet per
// name:
//
//	// One or more filters.
//	//
//	//   - attachment.attachment-id - The ID of the interface attachment.
//	//
//	//   - tag : - The key/value combination of a tag assigned to the resource.
//	Filters []types.Filter
//
// ("tag :" is tag:<key>, whose placeholder the renderer drops; some operations
// render it as "tag"). The comment of
// MaxResults states its range where the model documents one ("This value can
// be between 5 and 1000") and says when the ID list cannot be combined with it
// ("You cannot specify this parameter and the network interface IDs parameter
// in the same request").
//
// docgen parses the api_op files of the service/ec2 version in go.mod with
// go/parser, for the operations named in the operations file, and emits
// inputs_gen.go. Run it through go generate in package ec2doc; a test in the
// package fails when the committed table differs from a fresh one.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/podsg/podsg/fake/internal/sdkmodule"
)

func main() {
	opsFile := flag.String("ops", "operations.txt", "file naming one EC2 operation per line")
	out := flag.String("o", "inputs_gen.go", "output Go file")
	flag.Parse()
	if err := run(*opsFile, *out); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run(opsFile, out string) error {
	ops, err := sdkmodule.ReadOps(opsFile)
	if err != nil {
		return err
	}
	dir, version, err := sdkmodule.Dir()
	if err != nil {
		return err
	}
	var inputs []input
	for _, op := range ops {
		in, err := parseInput(filepath.Join(dir, "api_op_"+op+".go"), op)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
	}
	src, err := source(inputs, version)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// input is what docgen learns about one operation's Input type.
type input struct {
	op         string
	filters    []string // documented filter names, sorted; "tag:" is tag:<key>
	min, max   int      // documented MaxResults range; 0, 0 when none is documented
	hasMax     bool     // the Input has a MaxResults field
	excludes   string   // Go name of the ID list MaxResults excludes, or ""
	idFields   []string // Go names of the Input's []string fields ending in Ids
	hasFilters bool
}

var (
	rangeRE   = regexp.MustCompile(`(?i)\bbetween (\d+) and (\d+)\b`)
	excludeRE = regexp.MustCompile(`(?i)cannot specify this parameter and the ([a-z0-9 -]+?) parameter in the same (?:request|call)`)
	bulletRE  = regexp.MustCompile(`^  -( |$)`)
)

func parseInput(path, op string) (input, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return input{}, err
	}
	name := op + "Input"
	var st *ast.StructType
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if ok && ts.Name.Name == name {
			st, _ = ts.Type.(*ast.StructType)
			return false
		}
		return st == nil
	})
	if st == nil {
		return input{}, fmt.Errorf("%s: no struct type %s", path, name)
	}
	in := input{op: op}
	for _, fld := range st.Fields.List {
		if len(fld.Names) != 1 {
			continue
		}
		fname := fld.Names[0].Name
		doc := fld.Doc.Text()
		switch {
		case fname == "Filters":
			in.hasFilters = true
			in.filters, err = filterNames(doc)
			if err != nil {
				return input{}, fmt.Errorf("%s.Filters: %w", name, err)
			}
		case fname == "MaxResults":
			in.hasMax = true
			flat := strings.Join(strings.Fields(doc), " ")
			if m := rangeRE.FindStringSubmatch(flat); m != nil {
				in.min, _ = strconv.Atoi(m[1])
				in.max, _ = strconv.Atoi(m[2])
			}
			if excludeRE.MatchString(flat) {
				in.excludes = "?" // resolved below, once the ID fields are known
			}
		case strings.HasSuffix(fname, "Ids") && isStringSlice(fld.Type):
			in.idFields = append(in.idFields, fname)
		}
	}
	if in.excludes == "?" {
		if len(in.idFields) != 1 {
			return input{}, fmt.Errorf("%s: MaxResults excludes an ID list, but the input has %d of them (%v)", name, len(in.idFields), in.idFields)
		}
		in.excludes = in.idFields[0]
	}
	return in, nil
}

func isStringSlice(e ast.Expr) bool {
	at, ok := e.(*ast.ArrayType)
	if !ok || at.Len != nil {
		return false
	}
	id, ok := at.Elt.(*ast.Ident)
	return ok && id.Name == "string"
}

// filterNames returns the names of the top-level bullets of a Filters doc
// comment. A bullet is "  - name - description", possibly wrapped; long names
// wrap right after the dash.
func filterNames(doc string) ([]string, error) {
	var items []string
	cur := -1
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case bulletRE.MatchString(line) && cur >= 0 && items[cur] != "" && !strings.Contains(items[cur], " - "):
			// A wrapped long name: "-", the name, then "- description".
			items[cur] += " " + strings.TrimSpace(line)
		case bulletRE.MatchString(line):
			items = append(items, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "-")))
			cur = len(items) - 1
		case strings.TrimSpace(line) == "":
			cur = -1
		case cur >= 0:
			items[cur] += " " + strings.TrimSpace(line)
		}
	}
	var names []string
	for _, it := range items {
		name, desc, ok := strings.Cut(it, " - ")
		if !ok {
			return nil, fmt.Errorf("bullet %q has no \" - \" after its name", it)
		}
		name = strings.TrimSpace(name)
		// The model writes tag:<key>; the renderer drops "<key>", leaving
		// "tag :" or, in some operations, "tag" (whose text then says to
		// "specify tag:Owner for the filter name").
		if name == "tag :" || (name == "tag" && strings.Contains(desc, "tag:")) {
			name = "tag:"
		}
		if strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("bullet %q: name %q contains a space", it, name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func source(inputs []input, version string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by docgen from %s@%s api_op_*.go; DO NOT EDIT.\n\n", sdkmodule.EC2, version)
	b.WriteString("package ec2doc\n\n")
	fmt.Fprintf(&b, "// SDKVersion is the version of %s the table was generated from.\n", sdkmodule.EC2)
	fmt.Fprintf(&b, "const SDKVersion = %q\n\n", version)
	b.WriteString("var inputs = map[string]Input{\n")
	for _, in := range inputs {
		fmt.Fprintf(&b, "\t%q: {\n", in.op)
		if in.hasFilters {
			b.WriteString("\t\tFilters: []string{\n")
			for _, n := range in.filters {
				fmt.Fprintf(&b, "\t\t\t%q,\n", n)
			}
			b.WriteString("\t\t},\n")
		}
		if in.hasMax {
			b.WriteString("\t\tHasMaxResults: true,\n")
		}
		if in.max > 0 {
			fmt.Fprintf(&b, "\t\tMaxResultsMin: %d,\n\t\tMaxResultsMax: %d,\n", in.min, in.max)
		}
		if in.excludes != "" {
			fmt.Fprintf(&b, "\t\tMaxResultsExcludes: %q,\n", in.excludes)
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
