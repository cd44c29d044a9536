package assert

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// LogLine checks that a line of the file at path matches the regular
// expression within the time given, and returns whether it did.
func LogLine(t TestingT, path, pattern string, within time.Duration) bool {
	helper(t)
	re, err := regexp.Compile(pattern)
	if err != nil {
		return failf(t, "a log line matching `"+pattern+"`", "a bad regular expression: "+err.Error())
	}
	ok, seen := eventually(within, func() (bool, string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, "no log: " + err.Error()
		}
		if _, found := MatchLine(b, re); found {
			return true, ""
		}
		return false, "no such line; the log ends with:\n" + tail(b, 8)
	})
	if ok {
		return true
	}
	return failf(t, fmt.Sprintf("a line matching `%s` in %s %s", pattern, path, withinText(within)), seen)
}

// MatchLine returns the first line of text matching re.
func MatchLine(text []byte, re *regexp.Regexp) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if re.Match(sc.Bytes()) {
			return sc.Text(), true
		}
	}
	return "", false
}

// tail returns the last n lines of text, indented.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "  (empty)"
	}
	return "  " + strings.Join(lines, "\n  ")
}
