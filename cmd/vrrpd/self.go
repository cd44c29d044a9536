package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Environment markers select the role of a re-executed vrrpd. They are
// removed from the environment the daemon passes on (scripts, children).
const (
	// daemonEnv marks the detached parent started by daemonize.
	daemonEnv = "VRRPD_DAEMON_CHILD"
	// vrrpChildEnv marks the VRRP child; its value is the parent's PID.
	vrrpChildEnv = "VRRPD_VRRP_CHILD"
)

// role is what this process of vrrpd does.
type role int

const (
	roleMain   role = iota // started by the user: may daemonize, then supervises
	roleParent             // the detached parent after daemonize: supervises
	roleVRRP               // the VRRP child: runs the engine
)

// takeRole reads the role markers and removes them from the environment.
// For the VRRP child it also returns the PID of the parent that started it.
func takeRole() (role, int) {
	r := roleMain
	parent := 0
	if os.Getenv(daemonEnv) != "" {
		r = roleParent
	}
	if v := os.Getenv(vrrpChildEnv); v != "" {
		r = roleVRRP
		parent, _ = strconv.Atoi(v)
	}
	os.Unsetenv(daemonEnv)
	os.Unsetenv(vrrpChildEnv)
	return r, parent
}

// selfPath is the path this program was started by: argv[0] itself when it
// names a file (made absolute), else argv[0] looked up in PATH, as a shell
// did to start us. Re-executing by that path (not /proc/self/exe, not the
// symlink-resolved executable) keeps the process name: installed as
// "keepalived", every vrrpd process is a "keepalived" to killall and pkill.
func selfPath(arg0 string, lookPath func(string) (string, error), executable func() (string, error)) (string, error) {
	if strings.Contains(arg0, "/") {
		return filepath.Abs(arg0)
	}
	if arg0 != "" {
		if p, err := lookPath(arg0); err == nil {
			return filepath.Abs(p)
		}
	}
	p, err := executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	return p, nil
}

// ownPath is selfPath for this process.
func ownPath() (string, error) {
	return selfPath(os.Args[0], exec.LookPath, os.Executable)
}

// childEnviron is the current environment plus one marker.
func childEnviron(marker, value string) []string {
	return append(os.Environ(), marker+"="+value)
}

// daemonize re-executes vrrpd detached from the terminal (Go cannot fork);
// the detached process is the parent that supervises the VRRP child.
func daemonize(stderr io.Writer) int {
	self, err := ownPath()
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
	cmd := &exec.Cmd{Path: self, Args: os.Args, Env: childEnviron(daemonEnv, "1"),
		Stdin: null, Stdout: null, Stderr: null, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "daemonize:", err)
		return exitFatal
	}
	return exitOK
}
