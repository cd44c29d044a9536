package kaconf

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(articleConf)
	f.Add("a { b { c 1 } }\n")
	f.Add("a\n{\n\"q\\\"\" # c\n}\n")
	f.Add("}{")
	f.Add("x \"unterminated\n")
	f.Fuzz(func(t *testing.T, in string) {
		if strings.Contains(in, "include") {
			return // never touch the file system from the fuzzer
		}
		stmts, err := Parse("fuzz.conf", []byte(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.conf:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		var walk func([]*Stmt)
		walk = func(ss []*Stmt) {
			for _, s := range ss {
				if s.Keyword == "" && s.Line == 0 {
					t.Fatalf("statement without keyword and line: %+v", s)
				}
				walk(s.Block)
			}
		}
		walk(stmts)
	})
}
