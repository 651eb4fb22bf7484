// Command gen turns the instance-limits data file into the Go table of
// package limits. Run it with `go generate ./limits`.
package main

import (
	"bytes"
	"flag"
	"log"
	"os"

	"github.com/podsg/podsg/limits/internal/tsv"
)

func main() {
	in := flag.String("in", "data/instance-limits.tsv", "data file to read")
	out := flag.String("out", "zz_generated_table.go", "Go file to write")
	flag.Parse()
	data, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	rows, err := tsv.Parse(bytes.NewReader(data))
	if err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	src, err := tsv.Render(rows)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
