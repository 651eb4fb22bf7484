// Command gen turns the instance-limits data file into the Go table of
// package limits. Run it with `go generate ./limits`.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/podsg/podsg/limits/internal/tsv"
)

func main() {
	in := flag.String("in", "data/instance-limits.tsv", "data file to read")
	out := flag.String("out", "zz_generated_table.go", "Go file to write")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rows, err := tsv.Parse(f)
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
