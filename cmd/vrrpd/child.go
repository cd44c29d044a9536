package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"halab/vrrpd"
)

// defaultVRRPPidFile is keepalived 2.2.7's default -r pid file (Debian).
const defaultVRRPPidFile = "/run/vrrp.pid"

// runVRRP is the VRRP child: it runs the engine until SIGTERM or SIGINT,
// sent by the parent or by the kernel when the parent dies, then stops
// gracefully (priority 0, addresses removed). SIGHUP reloads.
func runVRRP(o *options, cfg *vrrpd.Config, warns []vrrpd.Warning, parent int, log *slog.Logger) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The parent-death signal is armed between fork and exec; a parent that
	// died before that leaves this child with another parent and no signal.
	if parent != 0 && os.Getppid() != parent {
		log.Warn("parent process gone before the VRRP child started; exiting", "parent", parent)
		return exitOK
	}
	for _, w := range warns {
		log.Warn(w.String())
	}
	if o.vrrpPidFile != "" {
		if err := writePidFile(o.vrrpPidFile); err != nil {
			log.Error("VRRP pid file", "err", err)
			return exitFatal
		}
		defer os.Remove(o.vrrpPidFile)
	}
	d := vrrpd.NewDaemon(cfg, vrrpd.Options{StatusFile: o.statusFile, Logger: log})
	go func() {
		for range hup {
			reload(d, o.file, log)
		}
	}()
	log.Info("VRRP child process started", "pid", os.Getpid(), "config", o.file)
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
