// Package yamlpos gives YAML decoding errors a place: FILE:LINE: problem.
// The lab's topology files and the scenario files share it.
package yamlpos

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is an error at a place in a file. File may be empty while the error
// travels up from a node decoder; Wrap fills it in.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errorf is an error at a line of the file being decoded.
func Errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// CheckKeys rejects mapping keys that are not allowed, naming them.
func CheckKeys(v *yaml.Node, what string, allowed ...string) error {
	if v.Kind != yaml.MappingNode {
		return Errorf(v.Line, "%s must be a mapping", what)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := v.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			return Errorf(k.Line, "unknown field %q in %s (allowed: %s)", k.Value, what, strings.Join(allowed, ", "))
		}
	}
	return nil
}

var lineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Wrap turns yaml.v3's errors ("yaml: line 3: ...", type errors with one
// message per problem) and Errors without a file into FILE:LINE errors.
// Errors that already name a file are kept as they are.
func Wrap(file string, err error) error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		if pe.File == "" {
			pe.File = file
		}
		return err
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		if sm := lineRe.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			errs = append(errs, &Error{File: file, Line: line, Msg: CleanMsg(sm[2])})
			continue
		}
		if strings.HasPrefix(m, file+":") {
			errs = append(errs, errors.New(m))
			continue
		}
		errs = append(errs, &Error{File: file, Msg: CleanMsg(strings.TrimPrefix(m, "yaml: "))})
	}
	return errors.Join(errs...)
}

// CleanMsg says yaml's tags in words.
func CleanMsg(m string) string {
	return tagWords.Replace(m)
}

var tagWords = strings.NewReplacer("!!str", "a string", "!!seq", "a list", "!!map", "a mapping",
	"!!int", "a number", "!!float", "a number", "!!bool", "true or false")
