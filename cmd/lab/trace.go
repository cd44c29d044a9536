package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"halab/lab"
	"halab/lab/capture"
)

// cmdTrace prints packets live, tcpdump style, from one or more node
// interfaces: `lab trace [-l NAME] [-w DIR] NODE[:IFACE]... [FILTER...]`.
// Without :IFACE every interface of the node is traced.
func cmdTrace(ctx context.Context, args []string, w, errw io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(errw)
	labName := fs.String("l", "", "lab name (default: the only lab up)")
	pcapDir := fs.String("w", "", "also write a pcap file per interface into this directory")
	fs.Usage = func() {
		fmt.Fprintf(errw, "usage: lab trace [-l NAME] [-w DIR] NODE[:IFACE]... [FILTER]\n\nfilters:\n%s\n", capture.FilterHelp)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("name at least one node")
	}
	name, err := pickLab(*labName)
	if err != nil {
		return err
	}
	l, err := lab.Open(name)
	if err != nil {
		return err
	}
	// Leading arguments naming nodes are targets; the rest is the filter.
	var specs []capture.Spec
	rest := fs.Args()
	for len(rest) > 0 {
		node, iface, _ := strings.Cut(rest[0], ":")
		n, err := l.Node(node)
		if err != nil {
			if len(specs) == 0 {
				return err
			}
			break
		}
		rest = rest[1:]
		var ifaces []string
		if iface != "" {
			ifaces = []string{iface}
		} else {
			st, err := n.Interfaces()
			if err != nil {
				return err
			}
			for _, i := range st {
				ifaces = append(ifaces, i.Name)
			}
		}
		for _, ifc := range ifaces {
			s := capture.Spec{Node: node, Iface: ifc, NetNS: n.NetNSPath()}
			if *pcapDir != "" {
				if err := os.MkdirAll(*pcapDir, 0o755); err != nil {
					return err
				}
				s.PcapPath = filepath.Join(*pcapDir, node+"-"+ifc+".pcap")
			}
			specs = append(specs, s)
		}
	}
	var opts capture.TraceOptions
	if len(rest) > 0 {
		f, err := capture.ParseFilter(strings.Join(rest, " "))
		if err != nil {
			return err
		}
		opts.Filter = f
	}
	opts.Started = func() {
		var where []string
		for _, s := range specs {
			where = append(where, s.Node+":"+s.Iface)
		}
		fmt.Fprintf(errw, "tracing %s (Ctrl-C to stop)\n", strings.Join(where, ", "))
	}
	stats, err := capture.Trace(ctx, w, specs, opts)
	for i, s := range stats {
		fmt.Fprintf(errw, "%s:%s: %s\n", specs[i].Node, specs[i].Iface, capture.FormatStats(s))
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
