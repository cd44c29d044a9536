// Command vrrpd is a VRRP daemon that reads keepalived.conf and accepts
// keepalived's command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"halab/vrrpd"
)

// Exit codes follow keepalived: 5 for a configuration problem.
const (
	exitOK     = 0
	exitFatal  = 1
	exitConfig = 5
)

// childEnv marks the re-executed, detached daemon process.
const childEnv = "VRRPD_DAEMON_CHILD"

type options struct {
	file, pidFile, statusFile string
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
	str(&o.pidFile, "/run/vrrpd.pid", "pid file", "p", "pid")
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
	str(&ignoredS, "", "ignored (keepalived: VRRP child pid file)", "r", "vrrp_pid")
	str(&ignoredS, "", "ignored (keepalived: checker child pid file)", "c", "checkers_pid")
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
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
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
	for _, w := range warns {
		fmt.Fprintln(stderr, w.String())
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
	if !o.dontFork && os.Getenv(childEnv) == "" {
		return daemonize(stderr)
	}
	log, closeLog := logger(o)
	defer closeLog()
	for _, w := range warns {
		log.Warn(w.String())
	}
	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error("pid file", "err", err)
			return exitFatal
		}
		defer os.Remove(o.pidFile)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := vrrpd.NewDaemon(cfg, vrrpd.Options{StatusFile: o.statusFile, Logger: log})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			reload(d, o.file, log)
		}
	}()
	log.Info("Starting VRRP child process", "pid", os.Getpid(), "config", o.file)
	if err := d.Run(ctx); err != nil {
		log.Error("vrrpd stopped", "err", err)
		return exitFatal
	}
	log.Info("Stopped")
	return exitOK
}

// reload re-reads the configuration on SIGHUP; one that does not load (or
// that keepalived would reject) leaves the running configuration in place.
func reload(d *vrrpd.Daemon, file string, log *slog.Logger) {
	log.Info("Reloading", "config", file)
	cfg, warns, err := vrrpd.LoadConfig(file)
	for _, w := range warns {
		log.Warn(w.String())
	}
	if err != nil {
		log.Error("reload failed, keeping the running configuration", "err", err)
		return
	}
	if !d.Reload(cfg) {
		log.Warn("reload ignored: the daemon is not running")
		return
	}
	log.Info("Reload finished", "instances", len(cfg.Instances))
}

// daemonize re-executes vrrpd detached from the terminal (Go cannot fork).
func daemonize(stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "daemonize:", err)
		return exitFatal
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(stderr, "daemonize:", err)
		return exitFatal
	}
	defer null.Close()
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "daemonize:", err)
		return exitFatal
	}
	return exitOK
}

// logger logs to the console with -l, else to syslog like keepalived.
func logger(o *options) (*slog.Logger, func()) {
	level := slog.LevelInfo
	if o.logDetail {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	if o.logConsole {
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), func() {}
	}
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "vrrpd")
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, hopts)), func() {}
	}
	return slog.New(slog.NewTextHandler(w, hopts)), func() { w.Close() }
}
