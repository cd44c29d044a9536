package scenarios

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"halab/lab"
)

// Paths of the reference daemons (Debian packages).
const (
	refKeepalived = "/usr/sbin/keepalived"
	refNginx      = "/usr/sbin/nginx"
	refHAProxy    = "/usr/sbin/haproxy"
)

// goBinary maps a kind to our daemon, and the name it runs under in the
// lab: our daemons are installed under the reference names (nginx,
// haproxy, keepalived), so tracking scripts such as `killall -0 nginx`
// and signals by process name behave the same with both implementations.
func goBinary(kind string) (bin, runAs string) {
	switch kind {
	case KindKeepalived:
		return "vrrpd", "keepalived"
	case KindNginx:
		return "proxyd", "nginx"
	case KindHAProxy:
		return "lbd", "haproxy"
	}
	return "lbd", "lbd"
}

// naReason says why a scenario cannot run on an implementation here, or "".
func naReason(s *Scenario, impl string) string {
	if r := s.NA[impl]; r != "" {
		return r
	}
	if impl != ImplReference {
		return ""
	}
	for _, d := range s.Daemons {
		if d.Kind == KindKeepalivedLVS && !fileExists("/proc/net/ip_vs") {
			return "keepalived-lvs under the reference implementation needs IPVS (ip_vs), which this kernel lacks"
		}
	}
	for _, d := range s.Daemons {
		path := map[string]string{KindKeepalived: refKeepalived, KindNginx: refNginx, KindHAProxy: refHAProxy}[d.Kind]
		if path != "" && !fileExists(path) {
			return path + " is not installed (apt-get install " + filepath.Base(path) + ")"
		}
	}
	return ""
}

var daemonOffRe = regexp.MustCompile(`(?m)^\s*daemon\s+off\s*;`)

// command returns the command line of a daemon for impl; conf is the path
// of its main config file in the shared dir, bin the directory of our
// binaries as nodes see it.
func command(d *Daemon, impl, conf, bin string) ([]string, error) {
	var args []string
	ref := impl == ImplReference
	exe := func(refPath string) string {
		if ref {
			return refPath
		}
		_, runAs := goBinary(d.Kind)
		return filepath.Join(bin, runAs)
	}
	switch d.Kind {
	case KindKeepalived:
		args = []string{exe(refKeepalived), "-f", conf, "-n", "-l", "-D", "-p", "/run/keepalived.pid"}
		if ref {
			args = append(args, "-r", "/run/keepalived_vrrp.pid", "-c", "/run/keepalived_check.pid")
		}
	case KindNginx:
		args = []string{exe(refNginx), "-c", conf}
		text, err := os.ReadFile(conf)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", conf, err)
		}
		if !daemonOffRe.Match(text) {
			args = append(args, "-g", "daemon off;")
		}
	case KindHAProxy:
		args = []string{exe(refHAProxy), "-f", conf, "-db", "-p", "/run/haproxy.pid"}
	case KindKeepalivedLVS:
		if ref {
			args = []string{refKeepalived, "-f", conf, "-n", "-l", "-D", "-C", "-p", "/run/keepalived-lvs.pid"}
		} else {
			args = []string{filepath.Join(bin, "lbd"), "-f", conf, "-n", "-l", "-D"}
		}
	default:
		return nil, fmt.Errorf("unknown daemon kind %q", d.Kind)
	}
	return args, nil
}

// daemonSet runs a scenario's daemons in a lab.
type daemonSet struct {
	l       *lab.Lab
	impl    string
	bin     string // our binaries as nodes see them
	pathEnv []string
	mu      sync.Mutex
	procs   map[string]*lab.Process // node/name -> running process
	specs   map[string]lab.ProcSpec
	daemons map[string]*Daemon
}

// prepareDaemons copies config files into the shared dir, installs our
// binaries there under the reference names, and computes each daemon's
// command line. Nothing is started.
func prepareDaemons(s *Scenario, l *lab.Lab, impl, binDir string) (*daemonSet, error) {
	shared := l.SharedDir()
	bin := filepath.Join(shared, "bin")
	ds := &daemonSet{l: l, impl: impl, bin: bin, procs: map[string]*lab.Process{}, specs: map[string]lab.ProcSpec{}, daemons: map[string]*Daemon{}}
	ds.pathEnv = []string{"PATH=" + bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	if impl == ImplGo {
		done := map[string]bool{}
		for _, d := range s.Daemons {
			src, runAs := goBinary(d.Kind)
			if done[runAs] {
				continue
			}
			done[runAs] = true
			if err := copyFile(filepath.Join(binDir, src), filepath.Join(bin, runAs), 0o755); err != nil {
				return nil, fmt.Errorf("install %s as %s (build it with go build -o %s ./cmd/%s): %w", src, runAs, binDir, src, err)
			}
		}
	}
	for i := range s.Daemons {
		d := &s.Daemons[i]
		dir := filepath.Join(shared, "etc", d.Node, d.Name)
		for _, f := range append([]string{d.Config}, d.Files...) {
			if err := copyFile(filepath.Join(s.Dir, f), filepath.Join(dir, f), 0o644); err != nil {
				return nil, fmt.Errorf("daemon %s on %s: %w", d.Name, d.Node, err)
			}
		}
		args, err := command(d, impl, filepath.Join(dir, d.Config), bin)
		if err != nil {
			return nil, err
		}
		key := d.Node + "/" + d.Name
		ds.specs[key] = lab.ProcSpec{Name: d.Name, Args: args, Env: ds.pathEnv, Dir: dir}
		ds.daemons[key] = d
	}
	return ds, nil
}

// nodePrep creates the directories the daemons write to in a node's
// private /run and /var/log.
var nodePrep = []string{"mkdir", "-p", "/var/log/nginx", "/var/log/haproxy", "/run/nginx", "/run/haproxy", "/run/keepalived", "/run/vrrpd"}

// startAll starts every daemon, in file order.
func (ds *daemonSet) startAll(ctx context.Context, order []Daemon) error {
	prepped := map[string]bool{}
	for _, d := range order {
		if !prepped[d.Node] {
			prepped[d.Node] = true
			if out, err := ds.l.MustNode(d.Node).Run(ctx, nodePrep...); err != nil {
				return fmt.Errorf("prepare %s: %w: %s", d.Node, err, out)
			}
		}
		if err := ds.start(ctx, d.Node, d.Name); err != nil {
			return err
		}
	}
	return nil
}

func (ds *daemonSet) start(ctx context.Context, node, name string) error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	key := node + "/" + name
	if p := ds.procs[key]; p != nil && p.ExitCode() < 0 {
		return nil // already running
	}
	n, err := ds.l.Node(node)
	if err != nil {
		return err
	}
	if ds.procs[key] != nil {
		// Restarting after a death: children of the last run (keepalived's
		// VRRP child outlives a SIGKILLed parent) would refuse the new one.
		_, _ = n.Run(ctx, "pkill", "-KILL", "-x", filepath.Base(ds.specs[key].Args[0]))
	}
	p, err := n.Start(ctx, ds.specs[key])
	if err != nil {
		return fmt.Errorf("start %s on %s: %w", name, node, err)
	}
	ds.procs[key] = p
	return nil
}

func (ds *daemonSet) stop(ctx context.Context, node, name string) error {
	ds.mu.Lock()
	p := ds.procs[node+"/"+name]
	ds.mu.Unlock()
	if p == nil || p.ExitCode() >= 0 {
		return nil
	}
	err := p.Stop(ctx)
	if _, ok := err.(*lab.ExitError); ok {
		return nil // stopped by a signal or exited non-zero: stopped all the same
	}
	return err
}

func (ds *daemonSet) signal(node, name string, sig syscall.Signal) error {
	ds.mu.Lock()
	p := ds.procs[node+"/"+name]
	ds.mu.Unlock()
	if p == nil || p.ExitCode() >= 0 {
		return fmt.Errorf("daemon %s on %s is not running", name, node)
	}
	return p.Signal(sig)
}

// running reports whether a daemon's process is alive.
func (ds *daemonSet) running(node, name string) bool {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	p := ds.procs[node+"/"+name]
	return p != nil && p.ExitCode() < 0
}

// onNode lists the names of the daemons of a node, in file order.
func (ds *daemonSet) onNode(order []Daemon, node string) []string {
	var out []string
	for _, d := range order {
		if d.Node == node {
			out = append(out, d.Name)
		}
	}
	return out
}

// logPath is the host path of a daemon's output.
func (ds *daemonSet) logPath(node, name string) string {
	return filepath.Join(lab.LogDir(ds.l.Name(), node), name+".log")
}

// stopAll stops every daemon (before the lab goes down, so their last
// words reach the logs).
func (ds *daemonSet) stopAll(ctx context.Context) {
	ds.mu.Lock()
	procs := make([]*lab.Process, 0, len(ds.procs))
	for _, p := range ds.procs {
		procs = append(procs, p)
	}
	ds.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Stop(ctx)
		}()
	}
	wg.Wait()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// signalByName maps a signal name (KILL or SIGKILL) to its number.
func signalByName(name string) syscall.Signal {
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "KILL":
		return syscall.SIGKILL
	case "TERM":
		return syscall.SIGTERM
	case "STOP":
		return syscall.SIGSTOP
	case "CONT":
		return syscall.SIGCONT
	case "HUP":
		return syscall.SIGHUP
	case "INT":
		return syscall.SIGINT
	case "QUIT":
		return syscall.SIGQUIT
	case "USR1":
		return syscall.SIGUSR1
	case "USR2":
		return syscall.SIGUSR2
	}
	return 0
}
