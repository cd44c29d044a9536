package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"halab/reports"
	"halab/scenarios"
	"halab/ui"
)

const runUsage = "usage: lab run FILE|DIR... [--impl go|reference|both] [--junit FILE] [--report DIR] [--keep] [--ui [--listen 127.0.0.1:PORT]] [--bin DIR] [-v]"

// runFlags takes the value after it.
var runValueFlags = map[string]bool{"impl": true, "junit": true, "report": true, "bin": true, "listen": true}

// splitArgs separates flags (anywhere on the line, as in `lab run DIR
// --impl both`) from file arguments.
func splitArgs(args []string) (flags, files []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(files, args[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if runValueFlags[name] {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag %s needs a value\n%s", a, runUsage)
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, files, nil
}

// cmdRun runs scenario files, each in its own lab, and reports.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flagArgs, files, err := splitArgs(args)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "", "implementation: go, reference or both (default: each scenario's impl, go unless it says)")
	junit := fs.String("junit", "", "write JUnit XML to FILE")
	report := fs.String("report", "", "write the HTML report, Markdown summary, logs and traces into DIR")
	keep := fs.Bool("keep", false, "leave the lab up after a failed run")
	bin := fs.String("bin", "", "directory of halab binaries (default: this binary's directory)")
	verbose := fs.Bool("v", false, "log lab events")
	live := fs.Bool("ui", false, "serve the teaching view of each scenario's lab while it runs (prints its URL and token)")
	listen := fs.String("listen", ui.DefaultListen, "with --ui: address to serve on (loopback only)")
	if err := fs.Parse(flagArgs); err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New(runUsage)
	}
	switch *impl {
	case "", scenarios.ImplGo, scenarios.ImplReference, "both":
	default:
		return fmt.Errorf("--impl %q: want go, reference or both", *impl)
	}
	paths, err := scenarios.Discover(files)
	if err != nil {
		return err
	}
	// Validate everything before any lab is created.
	var all []*scenarios.Scenario
	var errs []error
	for _, p := range paths {
		s, err := scenarios.Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, s)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if *bin == "" {
		if exe, err := os.Executable(); err == nil {
			*bin = filepath.Dir(exe)
		}
	}
	if abs, err := filepath.Abs(*bin); err == nil {
		*bin = abs
	}
	for _, private := range []string{"/tmp/", "/run/", "/var/log/"} {
		if strings.HasPrefix(*bin+"/", private) {
			fmt.Fprintf(stderr, "lab run: warning: %s is private to each node: nodes will not find labapp there (use --bin)\n", *bin)
		}
	}
	opt := scenarios.Options{BinDir: *bin, Keep: *keep, Progress: stdout}
	if *verbose {
		opt.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if *report != "" {
		opt.ArtifactDir = *report
	}
	if *live {
		v, err := newLiveView(*listen, stdout, opt.Logger)
		if err != nil {
			return err
		}
		opt.Observer = v
	}
	var results []*scenarios.Result
	for _, s := range all {
		impls := []string{s.Impl}
		switch *impl {
		case "both":
			impls = []string{scenarios.ImplGo, scenarios.ImplReference}
		case "":
		default:
			impls = []string{*impl}
		}
		for _, im := range impls {
			if ctx.Err() != nil {
				break
			}
			results = append(results, scenarios.Run(ctx, s, im, opt))
		}
	}
	fmt.Fprintln(stdout)
	printMatrix(stdout, results)
	if *report != "" {
		if err := reports.Write(*report, results); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*report, "index.html"))
		}
	}
	if *junit != "" {
		errs = append(errs, reports.WriteJUnitFile(*junit, results))
	}
	failed := 0
	for _, r := range results {
		if r.Status == scenarios.StatusFail || r.Status == scenarios.StatusError {
			failed++
		}
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d runs failed", failed, len(results)))
	}
	if ctx.Err() != nil {
		errs = append(errs, errors.New("interrupted"))
	}
	return errors.Join(errs...)
}

// printMatrix prints the scenario by implementation outcomes.
func printMatrix(w io.Writer, results []*scenarios.Result) {
	m := reports.BuildMatrix(results)
	width := len("scenario")
	for _, s := range m.Scenarios {
		width = max(width, len(s))
	}
	fmt.Fprintf(w, "%-*s", width+2, "scenario")
	for _, i := range m.Impls {
		fmt.Fprintf(w, "%-12s", i)
	}
	fmt.Fprintln(w)
	for _, s := range m.Scenarios {
		fmt.Fprintf(w, "%-*s", width+2, s)
		for _, i := range m.Impls {
			fmt.Fprintf(w, "%-12s", reports.CellText(m.Cells[[2]string{s, i}]))
		}
		fmt.Fprintln(w)
	}
}
