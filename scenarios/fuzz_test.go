package scenarios

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the parser panic and that every
// error names the file.
func FuzzParse(f *testing.F) {
	ex, err := os.ReadFile("examples/app-link-flap.yaml")
	if err == nil {
		f.Add(string(ex))
	}
	f.Add(head + "steps:\n  - pause: 1s\n")
	f.Add(head + "steps:\n  - traffic: {name: w, from: client, url: \"http://x/\", count: 1}\n  - expect: {traffic: w, max_failures: 1}\n")
	f.Add(head + "capture: [nginx01:eth0]\nsteps:\n  - expect: {trace: [{vrrp: true, priority: 90}]}\n")
	f.Add("name: x\ntopology: {name: x, nodes: [{name: a}]}\nsteps: [{crash: a}, {heal: }]\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := Parse("f.yaml", []byte(text))
		if err != nil && !strings.Contains(err.Error(), "f.yaml") {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}
