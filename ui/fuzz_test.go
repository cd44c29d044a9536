package ui

import (
	"strings"
	"testing"
)

// FuzzParseStatsCSV feeds arbitrary statistics pages to the parser: it may
// refuse them but never panics, and every backend it returns has a name.
func FuzzParseStatsCSV(f *testing.F) {
	f.Add("# pxname,svname,status,addr,\napps,app01,UP,10.0.2.21:80,\n")
	f.Add("# pxname,svname,status\nweb,FRONTEND,OPEN\napps,BACKEND,UP\n")
	f.Add("# svname\n\"a\"\"b\",x\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		bs, err := parseStatsCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, b := range bs {
			if !strings.Contains(b.Name, "/") {
				t.Fatalf("backend without a proxy/server name: %+v", b)
			}
		}
	})
}
