package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"halab/scenarios"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes one testcase per scenario and implementation: failed
// expectations as failures (with what was seen), runs that could not be
// carried out as errors, n/a runs as skipped with the reason.
func WriteJUnit(w io.Writer, results []*scenarios.Result) error {
	suite := junitSuite{Name: "halab scenarios"}
	var total time.Duration
	for _, r := range results {
		c := junitCase{Name: r.Scenario + " [" + r.Impl + "]", Classname: "scenarios." + r.Impl, Time: seconds(r.Duration)}
		total += r.Duration
		suite.Tests++
		switch r.Status {
		case scenarios.StatusFail:
			suite.Failures++
			c.Failure = &junitProblem{Message: r.Reason, Type: "expectation", Text: failureText(r)}
		case scenarios.StatusError:
			suite.Errors++
			c.Error = &junitProblem{Message: r.Reason, Type: "error", Text: failureText(r)}
		case scenarios.StatusNA:
			suite.Skipped++
			c.Skipped = &junitProblem{Message: "n/a: " + r.Reason}
		}
		c.SystemOut = stepsText(r)
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = seconds(total)
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Skipped: suite.Skipped,
		Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// failureText lists the failed steps with their messages.
func failureText(r *scenarios.Result) string {
	var b strings.Builder
	if r.File != "" {
		fmt.Fprintf(&b, "%s [%s]\n", r.File, r.Impl)
	}
	for _, s := range r.Failures() {
		fmt.Fprintf(&b, "step %d (line %d) %s: %s\n  %s\n", s.Index, s.Line, s.Desc, s.Status, strings.ReplaceAll(s.Message, "\n", "\n  "))
	}
	if len(r.Failures()) == 0 && r.Reason != "" {
		b.WriteString(r.Reason + "\n")
	}
	return b.String()
}

// stepsText is the run's progress, one line per step.
func stepsText(r *scenarios.Result) string {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "%d. %s: %s (%s)\n", s.Index, s.Desc, s.Status, s.Duration.Round(time.Millisecond))
	}
	return b.String()
}
