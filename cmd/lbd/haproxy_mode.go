package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"halab/internal/procs"
	"halab/lbd"
	"halab/lbd/haproxycfg"
)

// drainLimit bounds how long a reload or soft stop waits for requests in
// flight (HAProxy's hard-stop-after is unlimited by default; lbd keeps a
// generous bound so a stuck client cannot hold an old config forever).
const drainLimit = 5 * time.Minute

func runHAProxy(args []string) int {
	return runHAProxyWith(args, os.Stdout, os.Stderr, nil)
}

// runHAProxyWith is runHAProxy with its output and, for tests, a context
// whose end stops the daemon like SIGTERM.
func runHAProxyWith(args []string, stdout, stderr io.Writer, stop context.Context) int {
	pid := os.Getpid()
	alert := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%-10s (%d) : %s\n", "[ALERT]", pid, fmt.Sprintf(format, a...))
	}
	o, err := parseHAProxyFlags(args)
	if err != nil {
		alert("config : %v", err)
		return 1
	}
	if o.version {
		fmt.Fprintln(stdout, "lbd: HAProxy-compatible load balancer (haproxy 2.6 configuration syntax)")
		return 0
	}
	if len(o.files) == 0 {
		alert("No configuration file specified. Use '-f' to load one.")
		return 1
	}
	cfg, ok := loadConfig(o, stderr, pid)
	if !ok {
		return 1
	}
	if o.check {
		if len(cfg.Warnings) > 0 && !o.quiet {
			fmt.Fprintln(stdout, "Warnings were found.")
		}
		if !hasListener(cfg) {
			fmt.Fprintln(stdout, "Configuration file has no error but will not start (no listener) => exit(2).")
			return 2
		}
		fmt.Fprintln(stdout, "Configuration file is valid")
		return 0
	}
	if (o.daemon || cfg.Global.Daemon) && !o.foreground && os.Getenv("LBD_DAEMON_CHILD") == "" {
		return daemonize(o, cfg, args, stderr)
	}
	log := slog.New(lbd.NewHAProxyHandler(stderr, slog.LevelInfo))
	if o.quiet {
		log = slog.New(lbd.NewHAProxyHandler(stderr, slog.LevelError))
	}
	// nbthread threads of HAProxy: as many goroutines at once
	threads := procs.New()
	threads.Apply(cfg.Global.NbThread)
	in, err := lbd.New(cfg, log)
	if err != nil {
		alert("%v", err)
		return 1
	}
	if err := in.Listen(nil); err != nil {
		alert("%v", err)
		alert("[%s.main()] Some protocols failed to start their listeners! Exiting.", "lbd")
		return 1
	}
	pidFile := o.pidFile
	if pidFile == "" {
		pidFile = cfg.Global.PIDFile
	}
	if pidFile != "" && os.Getenv("LBD_DAEMON_CHILD") == "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			alert("[%s.main()] Cannot create pidfile %s", "lbd", pidFile)
			return 1
		}
	}
	in.Serve()
	for _, p := range o.finish {
		syscall.Kill(p, syscall.SIGUSR1)
	}
	for _, p := range o.terminate {
		syscall.Kill(p, syscall.SIGTERM)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	var stopC <-chan struct{}
	if stop != nil {
		stopC = stop.Done()
	}
	for {
		select {
		case <-stopC:
			return hardStop(in)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP, syscall.SIGUSR2:
				in = reload(in, o, stderr, pid, log, threads)
			case syscall.SIGUSR1:
				log.Warn("Stopping lbd (soft stop requested by SIGUSR1).")
				ctx, cancel := context.WithTimeout(context.Background(), drainLimit)
				err := in.Shutdown(ctx)
				cancel()
				if err != nil {
					return 1
				}
				return 0
			default:
				return hardStop(in)
			}
		}
	}
}

// hardStop is SIGTERM: close everything now, as HAProxy's hard stop does.
func hardStop(in *lbd.Instance) int {
	in.Close()
	return 0
}

// loadConfig parses the files and prints warnings and alerts in HAProxy's
// words. It reports whether the configuration can be used.
func loadConfig(o *hapFlags, stderr io.Writer, pid int) (*haproxycfg.Config, bool) {
	line := func(label, msg string) {
		fmt.Fprintf(stderr, "%-10s (%d) : config : %s\n", label, pid, msg)
	}
	cfg, err := haproxycfg.LoadFiles(o.files)
	if err != nil {
		var alerts haproxycfg.Alerts
		if errors.As(err, &alerts) {
			files := map[string]bool{}
			for _, a := range alerts {
				line("[ALERT]", a.Error())
				if a.Pos.File != "" && !files[a.Pos.File] {
					files[a.Pos.File] = true
				}
			}
			for _, f := range o.files {
				if files[f] {
					line("[ALERT]", "Error(s) found in configuration file : "+f)
				}
			}
		} else {
			line("[ALERT]", err.Error())
		}
		line("[ALERT]", "Fatal errors found in configuration.")
		return nil, false
	}
	if !o.quiet {
		for _, w := range cfg.Warnings {
			line("[WARNING]", w.String())
		}
	}
	return cfg, true
}

// reload builds a new instance from the same files, hands the listening
// sockets over, and lets the old instance finish its requests in the
// background. On any error the old instance keeps running.
func reload(old *lbd.Instance, o *hapFlags, stderr io.Writer, pid int, log *slog.Logger, threads *procs.Setter) *lbd.Instance {
	log.Info("Reloading lbd")
	cfg, ok := loadConfig(o, stderr, pid)
	if !ok {
		log.Error("Reload failed, keeping the running configuration.")
		return old
	}
	next, err := lbd.New(cfg, log)
	if err != nil {
		log.Error(fmt.Sprintf("Reload failed: %v", err))
		return old
	}
	socks := old.HandOff()
	if err := next.Listen(socks); err != nil {
		log.Error(fmt.Sprintf("Reload failed: %v", err))
		old.Resume()
		return old
	}
	// Sockets the new configuration no longer binds are closed.
	kept := map[any]bool{}
	for _, fe := range next.Frontends {
		for _, l := range fe.Listeners() {
			kept[l] = true
		}
	}
	for _, l := range socks {
		if !kept[l] {
			l.Close()
		}
	}
	threads.Apply(cfg.Global.NbThread)
	next.Serve()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainLimit)
		defer cancel()
		old.Drain(ctx)
	}()
	log.Info("Reload complete")
	return next
}

// daemonize starts lbd again in the background (new session, output to
// /dev/null), writes the pid file and returns at once, as "haproxy -D".
func daemonize(o *hapFlags, cfg *haproxycfg.Config, args []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "lbd: cannot daemonize: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "LBD_DAEMON_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "lbd: cannot daemonize: %v\n", err)
		return 1
	}
	pidFile := o.pidFile
	if pidFile == "" {
		pidFile = cfg.Global.PIDFile
	}
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "lbd: cannot create pidfile %s: %v\n", pidFile, err)
		}
	}
	cmd.Process.Release()
	return 0
}

// hasListener reports whether some frontend or listen section binds.
func hasListener(cfg *haproxycfg.Config) bool {
	for _, px := range cfg.Proxies {
		if len(px.Binds) > 0 {
			return true
		}
	}
	return false
}
