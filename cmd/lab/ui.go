package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"halab/faults"
	"halab/lab"
	"halab/scenarios"
	"halab/scenarios/traffic"
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

// liveView serves the teaching view of each scenario's lab while it runs
// (`lab run --ui`): the page's actions go through the run's fault engine,
// and the run's steps, faults and traffic land on the page's timeline.
// Scenarios run one after another, so one server at a time listens, on the
// same address and with the same token: an open page follows the runs.
type liveView struct {
	listen, token string
	out           io.Writer
	log           *slog.Logger

	srv    *ui.Server
	cancel context.CancelFunc
}

func newLiveView(listen string, out io.Writer, log *slog.Logger) (*liveView, error) {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, fmt.Errorf("--listen %q: %w", listen, err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &liveView{listen: listen, token: hex.EncodeToString(b), out: out, log: log}, nil
}

// LabUp starts serving the run's lab.
func (v *liveView) LabUp(ctx context.Context, l *lab.Lab, eng *faults.Engine) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := ui.Serve(ctx, l, ui.Options{Listen: v.listen, Token: v.token, Faults: eng, Logger: v.log})
	if err != nil {
		cancel()
		fmt.Fprintf(v.out, "    teaching view: %v\n", err)
		return
	}
	v.srv, v.cancel = s, cancel
	fmt.Fprintf(v.out, "    teaching view of lab %s: %s\n    token for actions: %s\n", l.Name(), s.URL(), s.Token())
}

// Event puts a step, fault or failure on the page's timeline.
func (v *liveView) Event(e scenarios.Event) {
	if v.srv != nil {
		v.srv.AddEvent(ui.Event{Time: e.Time, Kind: e.Kind, Text: e.Text})
	}
}

// Traffic draws a traffic step's requests on the page's timeline.
func (v *liveView) Traffic(rec *traffic.Recording) {
	if v.srv != nil {
		v.srv.AddRecording(rec)
	}
}

// LabDown stops serving before the lab goes.
func (v *liveView) LabDown() {
	if v.srv == nil {
		return
	}
	v.cancel()
	<-v.srv.Done()
	v.srv, v.cancel = nil, nil
}
