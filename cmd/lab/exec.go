package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"halab/lab"
)

// cmdExec runs a command in a node and returns its exit code. With a
// terminal on stdin it allocates a pty so interactive shells work.
func cmdExec(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	labName := fs.String("l", "", "lab name (default: the only lab up)")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	rest := fs.Args()
	if len(rest) < 2 {
		return 0, errors.New("usage: lab exec [-l NAME] NODE -- CMD...")
	}
	nodeName, cmd := rest[0], rest[1:]
	if cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return 0, errors.New("usage: lab exec [-l NAME] NODE -- CMD...")
	}
	name, err := pickLab(*labName)
	if err != nil {
		return 0, err
	}
	l, err := lab.Open(name)
	if err != nil {
		return 0, err
	}
	n, err := l.Node(nodeName)
	if err != nil {
		return 0, err
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	if t := os.Getenv("TERM"); t != "" {
		env = append(env, "TERM="+t)
	}
	if term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())) {
		return execTTY(ctx, n, cmd, env)
	}
	p, err := n.Start(ctx, lab.ProcSpec{Name: "exec", Args: cmd, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return 0, err
	}
	forwardSignals(p)
	_ = p.Wait()
	return p.ExitCode(), nil
}

func forwardSignals(p *lab.Process) {
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		for s := range sigc {
			_ = p.Signal(s.(syscall.Signal))
		}
	}()
}

// execTTY runs cmd on a new pty whose master this process relays to the
// user's terminal in raw mode.
func execTTY(ctx context.Context, n *lab.Node, cmd, env []string) (int, error) {
	master, slave, err := openPTY()
	if err != nil {
		return 0, err
	}
	defer master.Close()
	resize := func() {
		if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
		}
	}
	resize()
	p, err := n.Start(ctx, lab.ProcSpec{Name: "exec", Args: cmd, Env: env, Stdin: slave, Stdout: slave, Stderr: slave, TTY: true})
	slave.Close()
	if err != nil {
		return 0, err
	}
	old, err := term.MakeRaw(int(os.Stdin.Fd()))
	if err != nil {
		return 0, err
	}
	defer func() { _ = term.Restore(int(os.Stdin.Fd()), old) }()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			resize()
		}
	}()
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	done := make(chan struct{})
	go func() { _, _ = io.Copy(os.Stdout, master); close(done) }()
	_ = p.Wait()
	<-done
	return p.ExitCode(), nil
}

// openPTY opens a new pseudo-terminal pair from /dev/ptmx.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	num, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", num), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", err)
	}
	return m, s, nil
}
