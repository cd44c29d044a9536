package l4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
)

// DaemonOptions configure RunDaemon.
type DaemonOptions struct {
	ConfigFile string // keepalived.conf
	PIDFile    string // written at start and removed at exit when set
	Logger     *slog.Logger
	Datapath   DatapathOptions
	Dial       DialFunc // DefaultDial if nil
	// Reload receives a value for every reload request (SIGHUP).
	Reload <-chan struct{}
}

// LoadForRun loads the config and drops virtual servers that keepalived
// would ignore (no real server and no sorry server), with a warning.
func LoadForRun(path string) (*Config, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	kept := cfg.Services[:0]
	for _, vs := range cfg.Services {
		if len(vs.Reals) == 0 && !vs.Sorry.IsValid() {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s: Virtual server %s has no real servers - ignoring", vs.Pos, vs.Spec()))
			continue
		}
		kept = append(kept, vs)
	}
	cfg.Services = kept
	return cfg, nil
}

// RunDaemon is lbd's L4 mode: it loads the config, programs lbd's nftables
// table, runs the health checks until ctx ends, reloads the config on
// request, and removes its table before returning.
func RunDaemon(ctx context.Context, o DaemonOptions) (err error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg, err := LoadForRun(o.ConfigFile)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if o.PIDFile != "" {
		if err := os.WriteFile(o.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("l4: pid file: %w", err)
		}
		defer func() { _ = os.Remove(o.PIDFile) }()
	}
	dp, err := OpenDatapath(o.Datapath)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dp.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		} else {
			log.Info("Removed nftables table", "table", "ip "+dp.Table())
		}
	}()
	log.Info("Starting lbd L4 NAT mode", "config", o.ConfigFile, "virtual_servers", len(cfg.Services), "table", "ip "+dp.Table())

	for {
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b := NewBalancer(cfg, dp, BalancerOptions{Dial: o.Dial, Logger: log})
		go func() { done <- b.Run(bctx) }()

		var next *Config
		for next == nil {
			select {
			case err := <-done:
				cancel()
				if err != nil {
					return err
				}
				return nil
			case <-o.Reload:
				c, err := LoadForRun(o.ConfigFile)
				if err != nil {
					log.Error("Reload failed, keeping the running configuration", "err", err)
					continue
				}
				for _, w := range c.Warnings {
					log.Warn(w)
				}
				log.Info("Reloading", "config", o.ConfigFile, "virtual_servers", len(c.Services))
				next = c
			}
		}
		cancel()
		if err := <-done; err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		cfg = next
	}
}
