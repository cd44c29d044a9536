package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"halab/lbd/l4"
)

// l4Flags is keepalived's command line as lbd's L4 mode reads it.
type l4Flags struct {
	file       string
	pidFile    string
	configTest bool
	logDetail  bool
}

// l4ExitConfig is keepalived's exit status for a configuration that does
// not pass -t (KEEPALIVED_EXIT_CONFIG).
const l4ExitConfig = 5

// keepalived's short options that take no value; "-nlD" is "-n -l -D".
const l4BoolShorts = "nlDCPBGXVIRdaxmet"

// parseL4Flags reads keepalived's flags. Those with no meaning for lbd
// (-n: lbd never forks; -l: lbd always logs to stderr; -P/-C subsystems;
// -r/-c/-b child pid files; -S facility...) are accepted and ignored.
func parseL4Flags(args []string, stderr io.Writer) (*l4Flags, error) {
	o := &l4Flags{file: "/etc/keepalived/keepalived.conf"}
	fs := flag.NewFlagSet("lbd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, def string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, def, "")
		}
	}
	boolean := func(p *bool, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, "")
		}
	}
	var ignoredBool bool
	var ignoredStr string
	str(&o.file, o.file, "f", "use-file")
	str(&o.pidFile, "", "p", "pid")
	boolean(&o.configTest, "t", "config-test")
	boolean(&o.logDetail, "D", "log-detail")
	boolean(&ignoredBool, "n", "dont-fork", "l", "log-console", "P", "vrrp", "C", "check",
		"B", "no_bfd", "G", "no-syslog", "X", "release-vips", "V", "dont-release-vrrp",
		"R", "dont-respawn", "d", "dump-conf", "a", "address-monitoring", "x", "snmp",
		"m", "core-dump", "e", "all-config", "all")
	str(&ignoredStr, "", "r", "vrrp_pid", "c", "checkers_pid", "b", "bfd_pid", "S", "log-facility",
		"u", "umask", "i", "config-id", "s", "namespace", "A", "snmp-agent-socket", "M", "core-dump-pattern")
	var dontReleaseIPVS bool
	boolean(&dontReleaseIPVS, "I", "dont-release-ipvs")
	if err := fs.Parse(expandShortFlags(args)); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if dontReleaseIPVS {
		return nil, fmt.Errorf("-I (--dont-release-ipvs) is not supported: lbd always removes its nftables table on exit")
	}
	return o, nil
}

// expandShortFlags splits getopt-style bundles ("-nlD") into single flags,
// and "-fFILE" into "-f FILE", so that Go's flag package reads keepalived's
// command lines.
func expandShortFlags(args []string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' || strings.Contains(a, "=") {
			out = append(out, a)
			continue
		}
		if strings.Trim(a[1:], l4BoolShorts) == "" {
			for _, c := range a[1:] {
				out = append(out, "-"+string(c))
			}
			continue
		}
		if strings.ContainsRune("fpsrcbSuiAM", rune(a[1])) {
			out = append(out, a[:2], a[2:])
			continue
		}
		out = append(out, a)
	}
	return out
}

// runL4 is lbd's L4 NAT mode, started by main for keepalived.conf syntax.
// args is the command line after the program name. It runs until SIGTERM or
// SIGINT, reloads on SIGHUP, and removes its nftables table on exit.
func runL4(args []string) int {
	return runL4With(args, os.Stderr, nil)
}

// runL4With is runL4 with its output and, for tests, a context that stops it.
func runL4With(args []string, stderr io.Writer, stop context.Context) int {
	o, err := parseL4Flags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "lbd: %v\n", err)
		return 2
	}
	if o.configTest {
		cfg, err := l4.LoadForRun(o.file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return l4ExitConfig
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, w)
		}
		if len(cfg.Warnings) > 0 {
			return l4ExitConfig
		}
		return 0
	}

	level := slog.LevelInfo
	if o.logDetail {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	if stop != nil {
		go func() {
			select {
			case <-stop.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	err = l4.RunDaemon(ctx, l4.DaemonOptions{ConfigFile: o.file, PIDFile: o.pidFile, Logger: log, Reload: reload})
	if err != nil {
		log.Error("lbd stopped", "err", err)
		return 1
	}
	log.Info("Stopped")
	return 0
}
