package reports

import (
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"strings"
	"time"

	"halab/assert"
	"halab/scenarios"
)

// htmlPage is the report: one file, CSS and SVG inline, a few lines of
// script to filter runs; no external resource.
var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"timeline": TimelineSVG,
	"cell":     CellText,
	"upper":    func(s scenarios.Status) string { return strings.ToUpper(string(s)) },
	"ms":       func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"clock":    func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
	"status":   func(s scenarios.Status) string { return strings.ReplaceAll(string(s), "/", "") },
	"pair":     func(a, b string) [2]string { return [2]string{a, b} },
	"anchor":   func(r *scenarios.Result) string { return safeAnchor(r.Scenario + "-" + r.Impl) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>halab scenarios</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
.pass{background:#dff3e3}.fail,.error{background:#f9dcdc}.na,.skipped{background:#eee;color:#555}
pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap;margin:.2em 0}
section.run{border-top:2px solid #ccc;margin-top:1.5em}
.legend span{display:inline-block;padding:0 6px;margin-right:4px;color:#fff}
svg.timeline{border:1px solid #ddd;background:#fff}
</style></head><body>
<h1>halab scenario run</h1>
<p>{{.Total}} runs: {{.Pass}} pass, {{.Fail}} fail, {{.Error}} error, {{.NA}} n/a.
<label><input type="checkbox" id="onlyfail"> show failed runs only</label></p>
<table><tr><th>scenario</th>{{range .Matrix.Impls}}<th>{{.}}</th>{{end}}</tr>
{{range $s := .Matrix.Scenarios}}<tr><td>{{$s}}</td>{{range $i := $.Matrix.Impls}}{{with index $.Matrix.Cells (pair $s $i)}}<td class="{{status .Status}}"><a href="#{{anchor .}}">{{cell .}}</a></td>{{else}}<td>-</td>{{end}}{{end}}</tr>
{{end}}</table>
<p class="legend">VRRP: <span style="background:#2e9d48">MASTER</span><span style="background:#3b78c4">BACKUP</span><span style="background:#e38a1c">FAULT</span><span style="background:#6b6b6b">DOWN</span>
VIP: <span style="background:#2e9d48">one holder</span><span style="background:#d43c3c">split brain</span><span style="background:#c9c9c9;color:#222">none</span>
requests: <span style="background:#2e86de">ok, in the colour of the app that answered</span><span style="background:#d43c3c">failed</span>; dashed lines: faults (black), failed checks (red).</p>
{{range .Runs}}<section class="run {{status .R.Status}}-run" id="{{anchor .R}}">
<h2 class="{{status .R.Status}}">{{.R.Scenario}} [{{.R.Impl}}]: {{upper .R.Status}}</h2>
{{with .R.Description}}<p>{{.}}</p>{{end}}
<p><code>{{.R.File}}</code>{{with .R.Lab}}, lab {{.}}{{end}}, started {{clock .R.Start}}, {{ms .R.Duration}}.{{with .R.Reason}} {{.}}.{{end}}{{if .R.Kept}} The lab was left up.{{end}}</p>
{{if .Failed}}<h3>Failed</h3>{{range .Failed}}<p>step {{.Index}} (line {{.Line}}) <b>{{.Desc}}</b>: {{.Status}}</p><pre>{{.Message}}</pre>{{end}}{{end}}
{{if .R.Steps}}<h3>Timeline</h3>{{timeline .R.Timeline}}
<h3>Steps</h3><table><tr><th>#</th><th>line</th><th>step</th><th>status</th><th>at</th><th>took</th></tr>
{{range .Steps}}<tr class="{{status .Status}}"><td>{{.Index}}</td><td>{{.Line}}</td><td>{{.Desc}}{{with .Message}}<pre>{{.}}</pre>{{end}}</td><td>{{.Status}}</td><td>+{{ms .At}}</td><td>{{ms .Duration}}</td></tr>{{end}}</table>{{end}}
{{if .Traffic}}<h3>Traffic</h3><table><tr><th>traffic</th><th>from</th><th>to</th><th>summary</th></tr>
{{range .Traffic}}<tr><td>{{.Name}}</td><td>{{.From}}</td><td>{{.Target}}</td><td>{{.Summary}}</td></tr>{{end}}</table>{{end}}
{{if .Files}}<h3>Logs and traces</h3><ul>{{range .Files}}<li><a href="{{.}}">{{.}}</a></li>{{end}}</ul>{{end}}
</section>
{{end}}
<script>
document.getElementById('onlyfail').addEventListener('change', function (e) {
  document.querySelectorAll('section.run').forEach(function (s) {
    s.style.display = e.target.checked && s.classList.contains('pass-run') ? 'none' : '';
  });
});
</script>
</body></html>
`))

type htmlRun struct {
	R       *scenarios.Result
	Steps   []htmlStep
	Failed  []scenarios.StepResult
	Traffic []htmlTraffic
	Files   []string
}

type htmlStep struct {
	scenarios.StepResult
	At time.Duration // since the run's start
}

type htmlTraffic struct {
	Name, From, Target, Summary string
}

type htmlData struct {
	Total, Pass, Fail, Error, NA int
	Matrix                       Matrix
	Runs                         []htmlRun
}

func safeAnchor(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			return c
		}
		return '_'
	}, s)
}

// WriteHTML writes the self-contained report; links to logs and traces are
// relative to base (the directory the report is written to).
func WriteHTML(w io.Writer, results []*scenarios.Result, base string) error {
	c := Counts(results)
	d := htmlData{Total: len(results), Pass: c[scenarios.StatusPass], Fail: c[scenarios.StatusFail],
		Error: c[scenarios.StatusError], NA: c[scenarios.StatusNA], Matrix: BuildMatrix(results)}
	for _, r := range results {
		hr := htmlRun{R: r, Failed: r.Failures()}
		for _, st := range r.Steps {
			hr.Steps = append(hr.Steps, htmlStep{st, st.Start.Sub(r.Start)})
		}
		for _, rec := range r.Timeline.Traffic {
			hr.Traffic = append(hr.Traffic, htmlTraffic{rec.Name, rec.From, rec.Target, assert.Summarize(rec.Requests()).String()})
		}
		if r.ArtifactDir != "" {
			for _, f := range append(append([]string(nil), r.Logs...), r.Traces...) {
				hr.Files = append(hr.Files, filepath.ToSlash(relTo(base, filepath.Join(r.ArtifactDir, f))))
			}
		}
		d.Runs = append(d.Runs, hr)
	}
	if err := htmlPage.Execute(w, d); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}
