// Package reports writes what scenario runs did: JUnit XML for CI
// (junit.go), a Markdown summary with the scenario by implementation
// matrix (markdown.go), and one self-contained HTML file (html.go) with a
// timeline per run (timeline.go, reusable by a live view) and each failed
// expectation with what was seen instead. The runner has already copied
// the daemons' logs and the traces next to it.
package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"halab/scenarios"
)

// Write writes index.html, summary.md and results.json into dir.
func Write(dir string, results []*scenarios.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	var errs []error
	write := func(name string, fn func(f *os.File) error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			return
		}
		errs = append(errs, fn(f), f.Close())
	}
	write("index.html", func(f *os.File) error { return WriteHTML(f, results, dir) })
	write("summary.md", func(f *os.File) error { return WriteMarkdown(f, results, dir) })
	write("results.json", func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	})
	return errors.Join(errs...)
}

// WriteJUnitFile writes the JUnit XML of results to path.
func WriteJUnitFile(path string, results []*scenarios.Result) error {
	if d := filepath.Dir(path); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := WriteJUnit(f, results); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// relTo returns path relative to base when possible.
func relTo(base, path string) string {
	if base == "" {
		return path
	}
	if r, err := filepath.Rel(base, path); err == nil {
		return r
	}
	return path
}
