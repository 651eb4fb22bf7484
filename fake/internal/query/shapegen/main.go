// Command shapegen writes the table of XML element names that package query
// uses to encode EC2 responses.
//
// The EC2 query protocol names response elements after the service model's
// locationName traits ("groupSet", "tagSet", "networkInterfaceId"), which
// cannot be derived from Go field names. aws-sdk-go-v2 compiles those traits
// into its generated deserializers, one function per shape, each a switch on
// element names that assigns to a Go field:
//
//	case strings.EqualFold("groupSet", t.Name.Local):
//		... awsEc2query_deserializeDocumentGroupIdentifierList(&sv.Groups, nodeDecoder)
//
// shapegen parses service/ec2/deserializers.go of the module version in go.mod,
// starts from the output shape of every operation named in the operations file,
// follows the deserializer calls to every reachable structure and list, and
// emits (Go type, Go field) → element name, plus the member element name of
// every list. Run it through go generate in package query.
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
	"sort"
	"strconv"
	"strings"

	"github.com/podsg/podsg/fake/internal/sdkmodule"
)

const (
	docPrefix    = "awsEc2query_deserializeDocument"
	opDocPrefix  = "awsEc2query_deserializeOpDocument"
	anyDeserName = "awsEc2query_deserialize"
)

func main() {
	opsFile := flag.String("ops", "operations.txt", "file naming one EC2 operation per line")
	out := flag.String("o", "shapes_gen.go", "output Go file")
	flag.Parse()
	if err := run(*opsFile, *out); err != nil {
		fmt.Fprintln(os.Stderr, "shapegen:", err)
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
	funcs, err := parseDeserializers(filepath.Join(dir, "deserializers.go"))
	if err != nil {
		return err
	}
	g := &generator{funcs: funcs, structs: map[string][]field{}}
	for _, op := range ops {
		if err := g.operation(op); err != nil {
			return err
		}
	}
	src, err := g.source(ops, version)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// deser describes one generated deserializer function.
type deser struct {
	name string
	// goType is the Go type the function fills, as written in this package's
	// generated code ("types.NetworkInterface", "ec2.DescribeVpcsOutput",
	// "[]types.GroupIdentifier", "[]string").
	goType string
	list   bool
	cases  []caseInfo
}

// caseInfo is one `case strings.EqualFold("name", ...)` of a deserializer.
type caseInfo struct {
	element string
	field   string // assigned field of sv, empty in list functions
	callee  string // deserializer called for the element, empty for scalars
}

func parseDeserializers(path string) (map[string]*deser, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	funcs := map[string]*deser{}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Body == nil {
			continue
		}
		name := fd.Name.Name
		if !strings.HasPrefix(name, docPrefix) && !strings.HasPrefix(name, opDocPrefix) {
			continue
		}
		if fd.Type.Params == nil || len(fd.Type.Params.List) == 0 {
			continue
		}
		d := &deser{name: name}
		switch t := fd.Type.Params.List[0].Type.(type) {
		case *ast.StarExpr:
			switch inner := t.X.(type) {
			case *ast.StarExpr:
				d.goType = typeString(inner.X)
			case *ast.ArrayType:
				d.list = true
				d.goType = "[]" + typeString(inner.Elt)
			default:
				// Maps and unions are not used by the shapes package query
				// encodes; operation() rejects them if they become reachable.
				d.goType = typeString(t.X)
			}
		default:
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok || len(cc.List) != 1 {
				return true
			}
			el, ok := equalFoldLiteral(cc.List[0])
			if !ok {
				return true
			}
			c := caseInfo{element: el}
			for _, stmt := range cc.Body {
				ast.Inspect(stmt, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.SelectorExpr:
						if id, ok := n.X.(*ast.Ident); ok && id.Name == "sv" && c.field == "" {
							c.field = n.Sel.Name
						}
					case *ast.CallExpr:
						if id, ok := n.Fun.(*ast.Ident); ok && strings.HasPrefix(id.Name, anyDeserName) && c.callee == "" {
							c.callee = id.Name
						}
					}
					return true
				})
			}
			d.cases = append(d.cases, c)
			return false
		})
		funcs[name] = d
	}
	return funcs, nil
}

func equalFoldLiteral(e ast.Expr) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 2 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "EqualFold" {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func typeString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		if token.IsExported(t.Name) {
			return "ec2." + t.Name
		}
		return t.Name
	case *ast.SelectorExpr:
		return typeString(t.X) + "." + t.Sel.Name
	case *ast.ArrayType:
		return "[]" + typeString(t.Elt)
	case *ast.StarExpr:
		return "*" + typeString(t.X)
	case *ast.MapType:
		return "map[" + typeString(t.Key) + "]" + typeString(t.Value)
	}
	return fmt.Sprintf("%T", e)
}

type field struct {
	goField string
	element string
	item    string
}

type generator struct {
	funcs   map[string]*deser
	structs map[string][]field // keyed by Go type
	outputs []string
}

func (g *generator) operation(op string) error {
	outType := "ec2." + op + "Output"
	g.outputs = append(g.outputs, outType)
	d, ok := g.funcs[opDocPrefix+op+"Output"]
	if !ok {
		// Operations without output members: the SDK discards the body.
		if _, seen := g.structs[outType]; !seen {
			g.structs[outType] = nil
		}
		return nil
	}
	return g.structure(d)
}

func (g *generator) structure(d *deser) error {
	if d.list {
		return fmt.Errorf("%s: expected a structure deserializer, found a list", d.name)
	}
	if _, seen := g.structs[d.goType]; seen {
		return nil
	}
	g.structs[d.goType] = nil // mark before recursing: shapes may be recursive
	var fields []field
	for _, c := range d.cases {
		if c.field == "" {
			return fmt.Errorf("%s: case %q assigns no field", d.name, c.element)
		}
		f := field{goField: c.field, element: c.element}
		if c.callee != "" {
			callee, ok := g.funcs[c.callee]
			if !ok {
				return fmt.Errorf("%s: case %q calls unknown %s", d.name, c.element, c.callee)
			}
			if callee.list {
				item, err := g.list(callee)
				if err != nil {
					return err
				}
				f.item = item
			} else if strings.HasPrefix(callee.goType, "map[") {
				return fmt.Errorf("%s: field %s is a map; package query does not encode maps", d.name, c.field)
			} else if err := g.structure(callee); err != nil {
				return err
			}
		}
		fields = append(fields, f)
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].goField < fields[j].goField })
	g.structs[d.goType] = fields
	return nil
}

// list returns the member element name of a list deserializer and records
// the structure of its elements.
func (g *generator) list(d *deser) (string, error) {
	if len(d.cases) != 1 {
		return "", fmt.Errorf("%s: list with %d member names (flattened lists are not supported)", d.name, len(d.cases))
	}
	c := d.cases[0]
	if c.callee != "" {
		callee, ok := g.funcs[c.callee]
		if !ok {
			return "", fmt.Errorf("%s: member calls unknown %s", d.name, c.callee)
		}
		if callee.list {
			return "", fmt.Errorf("%s: lists of lists are not supported", d.name)
		}
		if err := g.structure(callee); err != nil {
			return "", err
		}
	}
	return c.element, nil
}

func (g *generator) source(ops []string, version string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by shapegen from %s@%s deserializers.go; DO NOT EDIT.\n\n", sdkmodule.EC2, version)
	b.WriteString("package query\n\n")
	b.WriteString("import (\n\t\"reflect\"\n\n\t\"github.com/aws/aws-sdk-go-v2/service/ec2\"\n\t\"github.com/aws/aws-sdk-go-v2/service/ec2/types\"\n)\n\n")
	fmt.Fprintf(&b, "// sdkVersion is the version of %s the table was generated from.\n", sdkmodule.EC2)
	fmt.Fprintf(&b, "const sdkVersion = %q\n\n", version)
	b.WriteString("// operations lists the operations whose outputs the table covers.\n")
	b.WriteString("var operations = []string{\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "\t%q,\n", op)
	}
	b.WriteString("}\n\n")
	b.WriteString("// shapes maps each structure reachable from those outputs to its members.\n")
	b.WriteString("var shapes = map[reflect.Type][]member{\n")
	names := make([]string, 0, len(g.structs))
	for n := range g.structs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\treflect.TypeFor[%s](): {\n", n)
		for _, f := range g.structs[n] {
			if f.item != "" {
				fmt.Fprintf(&b, "\t\t{%q, %q, %q},\n", f.goField, f.element, f.item)
			} else {
				fmt.Fprintf(&b, "\t\t{%q, %q, \"\"},\n", f.goField, f.element)
			}
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
