package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"halab/lab"
	"halab/ui"
)

// cmdUI serves the teaching view of a running lab:
// `lab ui [NAME] [--listen 127.0.0.1:PORT] [--allow-remote]`. It prints the
// page's URL (the token rides in its fragment) and serves until interrupted.
func cmdUI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ui.DefaultListen, "address to serve on (loopback only unless --allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback --listen address (anyone reaching it can watch the lab; actions still need the token)")
	verbose := fs.Bool("v", false, "log requests and errors")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lab ui [NAME] [--listen 127.0.0.1:PORT] [--allow-remote]")
		fs.PrintDefaults()
	}
	// Flags may come before or after the lab name.
	var names []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(names) > 1 {
		fs.Usage()
		return errors.New("name at most one lab")
	}
	name := ""
	if len(names) == 1 {
		name = names[0]
	}
	name, err := pickLab(name)
	if err != nil {
		return err
	}
	l, err := lab.Open(name)
	if err != nil {
		return err
	}
	opts := ui.Options{Listen: *listen, AllowRemote: *allowRemote}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	s, err := ui.Serve(ctx, l, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "teaching view of lab %s: %s\ntoken for actions: %s\n(Ctrl-C to stop)\n", name, s.URL(), s.Token())
	<-ctx.Done()
	<-s.Done()
	return nil
}
