package main

import (
	"context"
	"errors"
	"io"
)

// cmdUI is filled in with the ui package.
func cmdUI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("ui: not yet")
}
