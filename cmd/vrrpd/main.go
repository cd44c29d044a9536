// Command vrrpd is a VRRP daemon that reads keepalived.conf and accepts
// keepalived's command line.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"halab/vrrpd"
)

// Exit codes follow keepalived: 5 for a configuration problem. A VRRP
// child exiting with either of exitFatal and exitConfig stops the parent.
const (
	exitOK     = 0
	exitFatal  = 1
	exitConfig = 5
)

type options struct {
	file, pidFile, statusFile string
	vrrpPidFile               string
	dontFork, logConsole      bool
	logDetail, configTest     bool
	dump, version             bool
}

// expandShort splits grouped short flags ("-nlD") the way getopt does.
func expandShort(args []string) []string {
	var out []string
	for _, a := range args {
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], "nlDtPvVCXRd") == "" {
			for _, c := range a[1:] {
				out = append(out, "-"+string(c))
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, def, usage string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, def, usage)
		}
	}
	boolean := func(p *bool, usage string, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, usage)
		}
	}
	str(&o.file, "/etc/keepalived/keepalived.conf", "configuration file", "f", "use-file")
	str(&o.pidFile, "/run/vrrpd.pid", "pid file of the parent process", "p", "pid")
	str(&o.vrrpPidFile, defaultVRRPPidFile, "pid file of the VRRP child process", "r", "vrrp_pid")
	str(&o.statusFile, vrrpd.DefaultStatusFile, "status file (JSON); empty disables it", "status-file")
	boolean(&o.dontFork, "stay in the foreground", "n", "dont-fork")
	boolean(&o.logConsole, "log to the console", "l", "log-console")
	boolean(&o.logDetail, "detailed (debug) logging", "D", "log-detail")
	boolean(&o.configTest, "check the configuration and exit", "t", "config-test")
	boolean(&o.dump, "print the effective configuration and exit", "dump")
	boolean(&o.version, "print the version", "v", "version")
	// keepalived options accepted for compatibility: vrrpd only does VRRP.
	var ignoredB bool
	var ignoredS string
	boolean(&ignoredB, "ignored (keepalived: VRRP subsystem only)", "P", "vrrp")
	boolean(&ignoredB, "ignored (keepalived: dump configuration)", "d", "dump-conf")
	str(&ignoredS, "", "ignored (keepalived: checker child pid file)", "c", "checkers_pid")
	str(&ignoredS, "", "ignored (keepalived: BFD child pid file)", "b", "bfd_pid")
	str(&ignoredS, "", "ignored (keepalived: syslog facility)", "S", "log-facility")
	if err := fs.Parse(expandShort(args)); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

func main() {
	r, parent := takeRole()
	os.Exit(run(r, parent, os.Args[1:], os.Stdout, os.Stderr))
}

// run is vrrpd in role r (parent is the PID of the parent process of a
// VRRP child).
func run(r role, parent int, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitFatal
	}
	if o.version {
		fmt.Fprintln(stdout, "vrrpd (halab) - keepalived.conf compatible VRRP daemon")
		return exitOK
	}
	cfg, warns, err := vrrpd.LoadConfig(o.file)
	if r == roleMain {
		for _, w := range warns {
			fmt.Fprintln(stderr, w.String())
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	if o.dump {
		cfg.Dump(stdout)
		return exitOK
	}
	if o.configTest {
		for _, w := range warns {
			if !w.Limitation {
				return exitConfig
			}
		}
		return exitOK
	}
	if !o.dontFork && r == roleMain {
		return daemonize(stderr)
	}
	log, closeLog := logger(o, r)
	defer closeLog()
	if r == roleVRRP {
		return runVRRP(o, cfg, warns, parent, log)
	}
	return runParent(o, log)
}

// runParent is the parent process: it writes the -p pid file and
// supervises the VRRP child (supervise.go).
func runParent(o *options, log *slog.Logger) int {
	self, err := ownPath()
	if err != nil {
		log.Error("cannot start the VRRP child", "err", err)
		return exitFatal
	}
	// Signals are caught before the child starts, so none is lost.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if o.pidFile != "" {
		if err := writePidFile(o.pidFile); err != nil {
			log.Error("pid file", "err", err)
			return exitFatal
		}
		defer os.Remove(o.pidFile)
	}
	log.Info("Starting vrrpd", "pid", os.Getpid(), "config", o.file)
	spec := childSpec{Path: self, Args: os.Args, PidFile: o.vrrpPidFile,
		Env: childEnviron(vrrpChildEnv, strconv.Itoa(os.Getpid()))}
	return newSupervisor(spec, log).run(sigs)
}

func writePidFile(path string) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// logger logs to the console with -l, else to syslog like keepalived (the
// VRRP child under its own tag, as Keepalived_vrrp).
func logger(o *options, r role) (*slog.Logger, func()) {
	level := slog.LevelInfo
	if o.logDetail {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	if o.logConsole {
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), func() {}
	}
	tag := "vrrpd"
	if r == roleVRRP {
		tag = "vrrpd_vrrp"
	}
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, tag)
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, hopts)), func() {}
	}
	return slog.New(slog.NewTextHandler(w, hopts)), func() { w.Close() }
}
