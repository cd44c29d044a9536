package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"halab/internal/yamlpos"
	"halab/lab"
)

// DefaultTimeout bounds a run when the scenario does not say.
const DefaultTimeout = 2 * time.Minute

// Load reads, parses and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data)
}

// Discover expands files and directories (their *.yaml and *.yml files,
// not recursively) into a sorted list of scenario files.
func Discover(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("scenario %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("scenario dir: %w", err)
		}
		var found []string
		for _, e := range ents {
			if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				found = append(found, filepath.Join(p, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no scenario files (*.yaml)", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

var topLevelKeys = []string{"name", "description", "topology", "impl", "vips", "capture", "daemons", "na", "timeout", "steps"}

// Parse parses and validates a scenario; file names it in errors and config
// and topology paths are relative to its directory. Nothing is created.
func Parse(file string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &PosError{File: file, Msg: "empty scenario"}
		}
		return nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, &PosError{File: file, Msg: "empty scenario"}
	}
	s, err := decodeScenario(file, root.Content[0])
	if err != nil {
		return nil, yamlError(file, err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeScenario(file string, v *yaml.Node) (*Scenario, error) {
	if err := checkKeys(v, "scenario", topLevelKeys...); err != nil {
		return nil, err
	}
	s := &Scenario{File: file, Dir: filepath.Dir(file), Impl: ImplGo, Timeout: DefaultTimeout}
	var topoNode *yaml.Node
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		var err error
		switch k.Value {
		case "name":
			err = val.Decode(&s.Name)
		case "description":
			err = val.Decode(&s.Description)
		case "impl":
			err = val.Decode(&s.Impl)
			if err == nil && s.Impl != ImplGo && s.Impl != ImplReference {
				err = posf(val.Line, "impl %q: want go or reference", s.Impl)
			}
		case "vips":
			err = val.Decode(&s.VIPs)
		case "capture":
			err = val.Decode(&s.Capture)
		case "daemons":
			s.Daemons, err = decodeDaemons(val)
		case "na":
			err = decodeNA(val, &s.NA)
		case "timeout":
			var d Duration
			if err = d.UnmarshalYAML(val); err == nil {
				s.Timeout = d.D()
			}
		case "steps":
			if val.Kind != yaml.SequenceNode {
				err = posf(val.Line, "steps must be a list")
			} else {
				err = val.Decode(&s.Steps)
			}
		case "topology":
			topoNode = val
		}
		if err != nil {
			return nil, err
		}
	}
	if topoNode == nil {
		return nil, posf(v.Line, "no topology: name a topology file or write one inline")
	}
	t, err := decodeTopology(s, topoNode)
	if err != nil {
		return nil, err
	}
	s.Topology = t
	return s, nil
}

// decodeTopology loads `topology: FILE` relative to the scenario, or decodes
// an inline topology with the scenario file's line numbers.
func decodeTopology(s *Scenario, v *yaml.Node) (*lab.Topology, error) {
	if v.Kind == yaml.ScalarNode {
		path := v.Value
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.Dir, path)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, posf(v.Line, "topology file %s: %v", v.Value, errors.Unwrap(err))
		}
		t, err := lab.LoadTopology(path)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: topology: %w", s.File, v.Line, err)
		}
		return t, nil
	}
	var t lab.Topology
	if err := v.Decode(&t); err != nil {
		var pe *lab.PosError
		if errors.As(err, &pe) {
			return nil, posf(pe.Line, "topology: %s", pe.Msg)
		}
		return nil, err
	}
	t.File = s.File
	if t.Name == "" {
		t.Name = "inline"
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

func yamlError(file string, err error) error { return yamlpos.Wrap(file, err) }

// fileExists reports whether a regular file exists.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
