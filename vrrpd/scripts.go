package vrrpd

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"syscall"
	"time"
)

// scriptResult is one finished run of a tracked script.
type scriptResult struct {
	script *Script
	ok     bool
	detail string
}

// runScript runs a command line with /bin/sh -c, killing its process group
// after timeout. It reports success (exit 0) and a short description.
func runScript(ctx context.Context, cmdline string, timeout time.Duration) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return false, "start: " + err.Error()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return true, "exit 0"
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return false, ee.String()
		}
		return false, err.Error()
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return false, "timed out"
	}
}

// runTrackedScript runs s every Interval (the first run at once, as
// keepalived does) and sends each outcome to out until ctx ends.
func runTrackedScript(ctx context.Context, clock Clock, s *Script, out chan<- any) {
	t := clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		t.Reset(s.Interval)
		ok, detail := runScript(ctx, s.Script, s.Timeout)
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- scriptResult{script: s, ok: ok, detail: detail}:
		case <-ctx.Done():
			return
		}
	}
}

// notifyTimeout bounds notify scripts.
const notifyTimeout = 30 * time.Second

// runNotify runs a notify script in the background and logs its failure.
func runNotify(log *slog.Logger, cmdline string) {
	go func() {
		ok, detail := runScript(context.Background(), cmdline, notifyTimeout)
		if !ok {
			log.Warn("notify script failed", "script", cmdline, "result", detail)
		}
	}()
}
