package scenarios

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"halab/faults"
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

// daemonSet prepares a scenario's daemons in a lab and registers them with
// the fault engine, which starts, stops and signals them.
type daemonSet struct {
	l       *lab.Lab
	eng     *faults.Engine
	impl    string
	bin     string // our binaries as nodes see them
	pathEnv []string
}

// prepareDaemons copies config files into the shared dir, installs our
// binaries there under the reference names, computes each daemon's command
// line and registers it with eng. Nothing is started.
func prepareDaemons(s *Scenario, l *lab.Lab, eng *faults.Engine, impl, binDir string) (*daemonSet, error) {
	shared := l.SharedDir()
	bin := filepath.Join(shared, "bin")
	ds := &daemonSet{l: l, eng: eng, impl: impl, bin: bin}
	path := bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if binDir != "" {
		path = bin + ":" + binDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	ds.pathEnv = []string{"PATH=" + path, "HOME=/root", "LANG=C.UTF-8"}
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
		if err := eng.Register(d.Node, d.Name, lab.ProcSpec{Name: d.Name, Args: args, Env: ds.pathEnv, Dir: dir}); err != nil {
			return nil, err
		}
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
		if err := ds.eng.StartDaemon(ctx, d.Node, d.Name); err != nil {
			return err
		}
	}
	return nil
}

// logPath is the host path of a daemon's output.
func (ds *daemonSet) logPath(node, name string) string {
	return filepath.Join(lab.LogDir(ds.l.Name(), node), name+".log")
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
