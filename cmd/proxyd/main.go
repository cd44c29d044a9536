// Command proxyd is an nginx-compatible reverse proxy. It reads nginx.conf
// and takes nginx's command line: -c FILE, -p PREFIX, -g DIRECTIVES, -t,
// -T, -q, -s stop|quit|reload|reopen, -v, -V.
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
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"halab/internal/procs"
	"halab/proxyd"
	"halab/proxyd/config"
	"halab/proxyd/nginxconf"
)

const (
	defaultPrefix = "/usr/share/nginx/"
	defaultConf   = "/etc/nginx/nginx.conf"
	daemonEnv     = "PROXYD_DAEMONIZED"
)

// options are the parsed command line.
type options struct {
	conf, prefix, globals, signal string
	test, dump, quiet, version    bool
	help                          bool
}

func main() {
	os.Exit(run(os.Args, os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	name := filepath.Base(args[0])
	opts, err := parseArgs(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	switch {
	case opts.help:
		fmt.Fprintf(stderr, "Usage: %s [-?hvVtTq] [-s signal] [-p prefix] [-c filename] [-g directives]\n", name)
		return 0
	case opts.version:
		fmt.Fprintf(stderr, "%s version: proxyd (nginx/1.22.1 compatible)\n", name)
		return 0
	}
	prefix := opts.prefix
	if prefix == "" {
		prefix = defaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	conf := opts.conf
	if conf == "" {
		conf = defaultConf
	}
	if !filepath.IsAbs(conf) {
		conf = filepath.Join(prefix, conf)
	}
	var extra []*nginxconf.Directive
	if opts.globals != "" {
		extra, err = nginxconf.Parse(nginxconf.CommandLine, []byte(opts.globals), filepath.Dir(conf))
		if err != nil {
			fmt.Fprintf(stderr, "%s: [emerg] %s\n", name, nginxMsg(err))
			return 1
		}
	}
	cfg, err := config.Load(conf, config.Options{Prefix: prefix, Extra: extra})
	if opts.signal != "" {
		return sendSignal(name, cfg, err, opts.signal, stderr)
	}
	if opts.test || opts.dump {
		if err != nil {
			fmt.Fprintf(stderr, "%s: [emerg] %s\n%s: configuration file %s test failed\n", name, nginxMsg(err), name, conf)
			return 1
		}
		if !opts.quiet {
			fmt.Fprintf(stderr, "%s: the configuration file %s syntax is ok\n%s: configuration file %s test is successful\n", name, conf, name, conf)
		}
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: [emerg] %s\n", name, nginxMsg(err))
		return 1
	}
	if cfg.Daemon && os.Getenv(daemonEnv) == "" {
		return daemonize(name, args, stderr)
	}
	return serve(name, conf, prefix, extra, cfg, stderr)
}

// nginxMsg words an error as nginx prints it: "reason in FILE:LINE".
func nginxMsg(err error) string {
	var ce *nginxconf.Error
	if errors.As(err, &ce) {
		return ce.Nginx()
	}
	return err.Error()
}

// parseArgs reads nginx-style options: flags may be grouped (-tq) and an
// option's value may be attached (-cfile) or the next argument.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			return nil, fmt.Errorf(`[emerg] invalid option: "%s"`, a)
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			takeValue := func() (string, error) {
				if j+1 < len(a) {
					v := a[j+1:]
					j = len(a)
					return v, nil
				}
				if i+1 < len(args) {
					i++
					j = len(a)
					return args[i], nil
				}
				return "", fmt.Errorf(`[emerg] option "-%c" requires %s`, c, map[byte]string{'c': "file name", 'p': "directory name", 'g': "parameter", 's': "parameter"}[c])
			}
			var err error
			switch c {
			case '?', 'h':
				o.help = true
			case 'v', 'V':
				o.version = true
			case 't':
				o.test = true
			case 'T':
				o.test, o.dump = true, true
			case 'q':
				o.quiet = true
			case 'c':
				o.conf, err = takeValue()
			case 'p':
				o.prefix, err = takeValue()
			case 'g':
				o.globals, err = takeValue()
			case 's':
				o.signal, err = takeValue()
				if err == nil {
					switch o.signal {
					case "stop", "quit", "reopen", "reload":
					default:
						return nil, fmt.Errorf(`[emerg] invalid option: "-s %s"`, o.signal)
					}
				}
			default:
				return nil, fmt.Errorf(`[emerg] invalid option: "%c"`, c)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

var signals = map[string]syscall.Signal{
	"stop": syscall.SIGTERM, "quit": syscall.SIGQUIT, "reload": syscall.SIGHUP, "reopen": syscall.SIGUSR1,
}

// sendSignal implements -s: read the pid file named by the configuration
// and signal that process.
func sendSignal(name string, cfg *config.Config, loadErr error, sig string, stderr io.Writer) int {
	if loadErr != nil {
		fmt.Fprintf(stderr, "%s: [emerg] %s\n", name, nginxMsg(loadErr))
		return 1
	}
	data, err := os.ReadFile(cfg.PID)
	if err != nil {
		fmt.Fprintf(stderr, "%s: [error] open() \"%s\" failed (%v)\n", name, cfg.PID, err)
		return 1
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "%s: [error] invalid PID number \"%s\" in \"%s\"\n", name, strings.TrimSpace(string(data)), cfg.PID)
		return 1
	}
	if err := syscall.Kill(pid, signals[sig]); err != nil {
		fmt.Fprintf(stderr, "%s: [alert] kill(%d, %d) failed (%v)\n", name, pid, signals[sig], err)
		return 1
	}
	return 0
}

// daemonize starts a detached copy of this process and returns, as nginx
// forks when "daemon on".
func daemonize(name string, args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "%s: [emerg] %v\n", name, err)
		return 1
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "%s: [emerg] %v\n", name, err)
		return 1
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "%s: [emerg] fork() failed (%v)\n", name, err)
		return 1
	}
	return 0
}

// serve runs until stopped: SIGHUP reloads, SIGTERM/SIGINT stop at once,
// SIGQUIT stops gracefully.
func serve(name, conf, prefix string, extra []*nginxconf.Directive, cfg *config.Config, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	threads := procs.New()
	threads.Apply(workerCount(cfg.WorkerProcesses))
	stopProfile := startProfile()
	defer stopProfile()
	srv, err := proxyd.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "%s: [emerg] %v\n", name, err)
		return 1
	}
	if cfg.PID != "" {
		if err := os.WriteFile(cfg.PID, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "%s: [emerg] open() \"%s\" failed (%v)\n", name, cfg.PID, err)
			srv.Close()
			return 1
		}
		defer os.Remove(cfg.PID)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			next, err := config.Load(conf, config.Options{Prefix: prefix, Extra: extra})
			if err == nil {
				err = srv.Reload(next)
			}
			if err == nil {
				threads.Apply(workerCount(next.WorkerProcesses))
			}
			if err != nil {
				log.Error("reload failed, keeping the running configuration", "err", nginxMsg(err))
			}
		case syscall.SIGQUIT:
			log.Info("gracefully shutting down")
			_ = srv.Shutdown(context.Background())
			return 0
		case syscall.SIGUSR1:
			if err := srv.ReopenLogs(); err != nil {
				log.Error("reopening logs", "err", err)
			}
		default:
			log.Info("exiting")
			srv.Close()
			return 0
		}
	}
	return 0
}
