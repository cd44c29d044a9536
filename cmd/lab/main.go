// Command lab builds and drives halab network labs:
//
//	lab up FILE                     bring a lab up from a topology file
//	lab up --impl go|reference SCENARIO  an architecture with its daemons
//	lab down [NAME|--all]           tear a lab down (idempotent, works after a crash)
//	lab status [NAME]               nodes, interfaces, addresses and processes
//	lab exec [-l NAME] NODE -- CMD  run a command in a node (a tty when interactive)
//	lab trace NODE[:IFACE] [FILTER] print packets live, tcpdump style
//	lab run FILE|DIR...             run scenarios and report
//	lab ui [NAME]                   a live teaching page of a running lab
//	lab graph FILE [-o PREFIX]      draw a topology as dot and SVG
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"halab/lab"
	"halab/scenarios"
)

const usage = `usage:
  lab up [--no-run] FILE            bring a lab up from a topology file
  lab up [--impl go|reference] SCENARIO
                                    bring a scenario's architecture up with its daemons; leave it running
  lab down [NAME|--all]             tear a lab down (idempotent; cleans up after a crash)
  lab status [NAME]                 show nodes, interfaces, addresses and processes
  lab exec [-l NAME] NODE -- CMD... run a command inside a node (a tty when interactive)
  lab trace [-l NAME] [-w DIR] NODE[:IFACE]... [FILTER]
                                    print packets live, tcpdump style (vrrp, arp, tcp, host A, port N...)
  lab run FILE|DIR... [--impl go|reference|both] [--junit FILE] [--report DIR] [--keep]
          [--ui [--listen 127.0.0.1:PORT]]
                                    run scenarios, each in its own lab, and report (--ui: watch live)
  lab ui [NAME] [--listen 127.0.0.1:PORT]
                                    serve a live page of a running lab (prints its URL and token)
  lab graph FILE [-o PREFIX]        write the topology as PREFIX.dot and PREFIX.svg
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "up":
		err = cmdUp(ctx, args[1:], stdout)
	case "down":
		err = cmdDown(ctx, args[1:], stdout)
	case "status":
		err = cmdStatus(args[1:], stdout)
	case "exec":
		var code int
		code, err = cmdExec(ctx, args[1:])
		if err == nil {
			return code
		}
	case "trace":
		err = cmdTrace(ctx, args[1:], stdout, stderr)
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "ui":
		err = cmdUI(ctx, args[1:], stdout, stderr)
	case "graph":
		err = cmdGraph(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
	if err != nil {
		fmt.Fprintln(stderr, "lab:", err)
		return 1
	}
	return 0
}

func cmdUp(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	noRun := fs.Bool("no-run", false, "do not start the topology's run entries")
	bin := fs.String("bin", "", "directory of halab binaries for run entries (default: this binary's directory)")
	verbose := fs.Bool("v", false, "log lab events")
	impl := fs.String("impl", scenarios.ImplGo, "for a scenario file: go (our daemons) or reference (Debian's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: lab up [--no-run] [--impl go|reference] FILE")
	}
	if *bin == "" {
		if exe, err := os.Executable(); err == nil {
			*bin = filepath.Dir(exe)
		}
	}
	if isScenario(fs.Arg(0)) {
		return upScenario(ctx, fs.Arg(0), *impl, *bin, w)
	}
	t, err := lab.LoadTopology(fs.Arg(0))
	if err != nil {
		return err
	}
	opts := []lab.Option{}
	if *verbose {
		opts = append(opts, lab.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}
	if *bin != "" {
		opts = append(opts, lab.WithBinDir(*bin))
	}
	if *noRun {
		opts = append(opts, lab.WithoutRun())
	}
	start := time.Now()
	l, err := lab.Up(ctx, t, opts...)
	if err != nil {
		return err
	}
	st, err := l.Status()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "lab %s is up (%d nodes, %s)\n\n", l.Name(), len(st), time.Since(start).Round(time.Millisecond))
	lab.WriteStatus(w, l.Name(), st)
	first := st[0].Name
	fmt.Fprintf(w, "\nReach the nodes:\n  lab exec %s -- bash                 a shell in %s\n", first, first)
	fmt.Fprintf(w, "  ip netns exec %s ip addr   the usual ip netns way\n", lab.NetnsName(l.Name(), first))
	fmt.Fprintf(w, "  lab status %s / lab down %s\n  logs: %s\n", l.Name(), l.Name(), filepath.Join(l.Dir(), "logs"))
	return nil
}

func cmdDown(ctx context.Context, args []string, w io.Writer) error {
	var names []string
	switch {
	case len(args) == 1 && args[0] == "--all":
		all, err := lab.List()
		if err != nil {
			return err
		}
		names = all
	case len(args) == 1:
		names = args
	case len(args) == 0:
		all, err := lab.List()
		if err != nil {
			return err
		}
		if len(all) > 1 {
			return fmt.Errorf("several labs are up (%s): name one or use --all", strings.Join(all, ", "))
		}
		names = all
	default:
		return errors.New("usage: lab down [NAME|--all]")
	}
	var errs []error
	for _, n := range names {
		start := time.Now()
		if err := lab.Down(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("down %s: %w", n, err))
			continue
		}
		fmt.Fprintf(w, "lab %s is down (%s)\n", n, time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

// pickLab resolves an optional lab name: the only lab up when none is given.
func pickLab(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	all, err := lab.List()
	if err != nil {
		return "", err
	}
	switch len(all) {
	case 0:
		return "", errors.New("no lab is up")
	case 1:
		return all[0], nil
	}
	return "", fmt.Errorf("several labs are up (%s): name one with -l NAME", strings.Join(all, ", "))
}

func cmdStatus(args []string, w io.Writer) error {
	var names []string
	if len(args) > 0 {
		names = args
	} else {
		all, err := lab.List()
		if err != nil {
			return err
		}
		if len(all) == 0 {
			fmt.Fprintln(w, "no lab is up")
			return nil
		}
		names = all
	}
	for i, name := range names {
		l, err := lab.Open(name)
		if err != nil {
			return err
		}
		st, err := l.Status()
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		lab.WriteStatus(w, name, st)
	}
	return nil
}

// isScenario tells a scenario file (it names a topology and daemons) from
// a topology file.
func isScenario(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "topology:") || strings.HasPrefix(line, "daemons:") {
			return true
		}
	}
	return false
}

// upScenario brings up a scenario's lab with its daemons under the
// topology's own lab name, runs its steps (the article's steady-state
// scenarios check the architecture works) and leaves it up.
func upScenario(ctx context.Context, path, impl, bin string, w io.Writer) error {
	s, err := scenarios.Load(path)
	if err != nil {
		return err
	}
	if impl != scenarios.ImplGo && impl != scenarios.ImplReference {
		return fmt.Errorf("--impl %q: want go or reference", impl)
	}
	res := scenarios.Run(ctx, s, impl, scenarios.Options{BinDir: bin, Progress: w, LabName: s.Topology.Name, KeepUp: true})
	if res.Status == scenarios.StatusNA {
		return fmt.Errorf("%s cannot run with the %s daemons here: %s", s.Name, impl, res.Reason)
	}
	if res.Lab == "" {
		return fmt.Errorf("%s: %s", s.Name, res.Reason)
	}
	l, err := lab.Open(res.Lab)
	if err != nil {
		return err
	}
	st, err := l.Status()
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	lab.WriteStatus(w, l.Name(), st)
	fmt.Fprintf(w, "\nlab %s is up with the %s daemons (%s).\n", l.Name(), impl, res.Status)
	fmt.Fprintf(w, "Try: lab exec client -- curl -s -H 'Host: www.example.com' http://VIP/ ; lab trace %s:eth0 vrrp ; lab ui %s ; lab down %s\n", firstDaemonNode(s), l.Name(), l.Name())
	if res.Status != scenarios.StatusPass {
		return fmt.Errorf("%s: the architecture came up but its checks failed: %s", s.Name, res.Reason)
	}
	return nil
}

func firstDaemonNode(s *scenarios.Scenario) string {
	if len(s.Daemons) > 0 {
		return s.Daemons[0].Node
	}
	return s.Topology.Nodes[0].Name
}
