package scenarios

import (
	"time"

	"halab/scenarios/traffic"
)

// Status is the outcome of a scenario run or a step.
type Status string

// Outcomes.
const (
	StatusPass    Status = "pass"
	StatusFail    Status = "fail"
	StatusNA      Status = "n/a"
	StatusError   Status = "error"   // the run could not be carried out (lab, daemon, timeout)
	StatusSkipped Status = "skipped" // a step after a failed wait, or n/a for the implementation
)

// Result is what one run of a scenario on one implementation did.
type Result struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Impl        string `json:"impl"`
	Lab         string `json:"lab,omitempty"`
	Status      Status `json:"status"`
	// Reason says why a run is n/a or an error, or sums up its failures.
	Reason   string        `json:"reason,omitempty"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Steps    []StepResult  `json:"steps"`
	Timeline Timeline      `json:"timeline"`
	// ArtifactDir holds the daemons' logs and the traces of the run;
	// Logs and Traces are paths relative to it.
	ArtifactDir string   `json:"artifact_dir,omitempty"`
	Logs        []string `json:"logs,omitempty"`
	Traces      []string `json:"traces,omitempty"`
	// Kept is set when the lab was left up for inspection (--keep).
	Kept bool `json:"kept,omitempty"`
}

// Failures returns the failed steps.
func (r *Result) Failures() []StepResult {
	var out []StepResult
	for _, s := range r.Steps {
		if s.Status == StatusFail || s.Status == StatusError {
			out = append(out, s)
		}
	}
	return out
}

// StepResult is one step as it ran.
type StepResult struct {
	Index    int           `json:"index"` // 1-based
	Line     int           `json:"line"`
	Action   string        `json:"action"`
	Desc     string        `json:"desc"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Status   Status        `json:"status"`
	// Message is what was expected and seen instead, why it failed, or
	// why it was skipped.
	Message string `json:"message,omitempty"`
}

// Timeline is what happened during a run, over time: what the report draws.
type Timeline struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Nodes are the nodes with a VRRP lane; VIPs the watched addresses.
	Nodes   []string             `json:"nodes"`
	VIPs    []string             `json:"vips"`
	Samples []Sample             `json:"samples"`
	Traffic []*traffic.Recording `json:"traffic"`
	Events  []Event              `json:"events"`
}

// Sample is the lab's VRRP state at a moment; the monitor keeps a sample
// only when something changed.
type Sample struct {
	Time time.Time `json:"time"`
	// VRRP is each node's state: MASTER, BACKUP, FAULT, INIT, or DOWN
	// when its VRRP daemon is not running.
	VRRP map[string]string `json:"vrrp"`
	// Holders lists each VIP's holders.
	Holders map[string][]string `json:"holders"`
}

// Event is a mark on the timeline.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is fault, step, fail (a failed expectation) or info.
	Kind string `json:"kind"`
	Text string `json:"text"`
}
