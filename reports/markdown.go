package reports

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"halab/scenarios"
)

// Matrix is the scenario by implementation grid of a set of runs.
type Matrix struct {
	Scenarios []string
	Impls     []string
	Cells     map[[2]string]*scenarios.Result // [scenario, impl]
}

// BuildMatrix groups results by scenario and implementation, in the order
// they ran.
func BuildMatrix(results []*scenarios.Result) Matrix {
	m := Matrix{Cells: map[[2]string]*scenarios.Result{}}
	seenS, seenI := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		if !seenS[r.Scenario] {
			seenS[r.Scenario] = true
			m.Scenarios = append(m.Scenarios, r.Scenario)
		}
		if !seenI[r.Impl] {
			seenI[r.Impl] = true
			m.Impls = append(m.Impls, r.Impl)
		}
		m.Cells[[2]string{r.Scenario, r.Impl}] = r
	}
	return m
}

// CellText renders a result as a matrix cell: pass, FAIL, ERROR, or n/a
// with its reason.
func CellText(r *scenarios.Result) string {
	if r == nil {
		return "-"
	}
	switch r.Status {
	case scenarios.StatusPass:
		return "pass"
	case scenarios.StatusNA:
		return "n/a: " + r.Reason
	}
	return strings.ToUpper(string(r.Status))
}

// Counts sums results up by status.
func Counts(results []*scenarios.Result) map[scenarios.Status]int {
	c := map[scenarios.Status]int{}
	for _, r := range results {
		c[r.Status]++
	}
	return c
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteMarkdown writes the summary: totals, the matrix, then each failed
// run's failed steps with what was expected and seen, and where its logs
// and traces are (relative to base, the report dir).
func WriteMarkdown(w io.Writer, results []*scenarios.Result, base string) error {
	var b strings.Builder
	c := Counts(results)
	b.WriteString("# halab scenario run\n\n")
	fmt.Fprintf(&b, "%d runs: %d pass, %d fail, %d error, %d n/a.\n\n", len(results),
		c[scenarios.StatusPass], c[scenarios.StatusFail], c[scenarios.StatusError], c[scenarios.StatusNA])
	m := BuildMatrix(results)
	b.WriteString("| scenario |")
	for _, i := range m.Impls {
		b.WriteString(" " + i + " |")
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(m.Impls)))
	b.WriteString("\n")
	for _, s := range m.Scenarios {
		b.WriteString("| " + mdEscape(s) + " |")
		for _, i := range m.Impls {
			b.WriteString(" " + mdEscape(CellText(m.Cells[[2]string{s, i}])) + " |")
		}
		b.WriteString("\n")
	}
	for _, r := range results {
		if r.Status != scenarios.StatusFail && r.Status != scenarios.StatusError {
			continue
		}
		fmt.Fprintf(&b, "\n## %s [%s]: %s\n\n", r.Scenario, r.Impl, strings.ToUpper(string(r.Status)))
		fmt.Fprintf(&b, "`%s`, lab %s, %s.", r.File, r.Lab, r.Duration.Round(time.Millisecond))
		if r.Reason != "" {
			fmt.Fprintf(&b, " %s.", r.Reason)
		}
		b.WriteString("\n\n")
		for _, s := range r.Failures() {
			fmt.Fprintf(&b, "- step %d (line %d) `%s`:\n\n```\n%s\n```\n", s.Index, s.Line, s.Desc, s.Message)
		}
		if r.ArtifactDir != "" {
			var files []string
			for _, f := range append(append([]string(nil), r.Logs...), r.Traces...) {
				files = append(files, relTo(base, filepath.Join(r.ArtifactDir, f)))
			}
			if len(files) > 0 {
				b.WriteString("\nLogs and traces: " + strings.Join(files, ", ") + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
