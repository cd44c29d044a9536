package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"halab/lab"
	"halab/lab/graph"
)

// cmdGraph writes a topology as Graphviz dot and SVG:
// `lab graph FILE [-o PREFIX]` writes PREFIX.dot and PREFIX.svg (PREFIX
// defaults to FILE without its extension).
func cmdGraph(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("o", "", "output prefix: writes PREFIX.dot and PREFIX.svg (default: FILE without extension)")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: lab graph FILE [-o PREFIX]") }
	// Accept the flag after the file too: `lab graph topo.yaml -o docs/x`.
	var files []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("name one topology file")
	}
	t, err := lab.LoadTopology(files[0])
	if err != nil {
		return err
	}
	if *prefix == "" {
		*prefix = strings.TrimSuffix(strings.TrimSuffix(files[0], ".yaml"), ".yml")
	}
	ly := graph.Compute(t)
	var dot, svg bytes.Buffer
	if err := graph.WriteDot(&dot, ly); err != nil {
		return err
	}
	if err := graph.WriteSVG(&svg, ly, graph.SVGOptions{Standalone: true}); err != nil {
		return err
	}
	for _, out := range []struct {
		path string
		data []byte
	}{{*prefix + ".dot", dot.Bytes()}, {*prefix + ".svg", svg.Bytes()}} {
		if err := os.WriteFile(out.path, out.data, 0o644); err != nil {
			return fmt.Errorf("graph: %w", err)
		}
		fmt.Fprintln(stdout, "wrote", out.path)
	}
	return nil
}
