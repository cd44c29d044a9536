package lbd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// HAProxyHandler is a slog.Handler printing records the way HAProxy prints
// its messages on stderr: "[WARNING]  (PID) : message". Levels map to
// NOTICE (info), WARNING (warn) and ALERT (error). Attributes, if any,
// follow the message as key=value.
type HAProxyHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	pid   int
	level slog.Level
	attrs []slog.Attr
}

// NewHAProxyHandler returns a handler writing to w records at or above
// level.
func NewHAProxyHandler(w io.Writer, level slog.Level) *HAProxyHandler {
	return &HAProxyHandler{mu: &sync.Mutex{}, w: w, pid: os.Getpid(), level: level}
}

// Enabled implements slog.Handler.
func (h *HAProxyHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

// Handle implements slog.Handler.
func (h *HAProxyHandler) Handle(_ context.Context, r slog.Record) error {
	label := "[NOTICE]"
	switch {
	case r.Level >= slog.LevelError:
		label = "[ALERT]"
	case r.Level >= slog.LevelWarn:
		label = "[WARNING]"
	case r.Level < slog.LevelInfo:
		label = "[DEBUG]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s (%d) : %s", label, h.pid, r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs implements slog.Handler.
func (h *HAProxyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

// WithGroup implements slog.Handler (groups are flattened).
func (h *HAProxyHandler) WithGroup(string) slog.Handler { return h }
