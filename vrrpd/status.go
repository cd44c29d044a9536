package vrrpd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultStatusFile is where the daemon publishes its status.
const DefaultStatusFile = "/run/vrrpd/status.json"

// Status is the JSON document of the status file.
type Status struct {
	PID       int              `json:"pid"`
	RouterID  string           `json:"router_id"`
	Updated   time.Time        `json:"updated"`
	Instances []InstanceStatus `json:"instances"`
}

// InstanceStatus is one instance in the status file.
type InstanceStatus struct {
	Name               string            `json:"name"`
	Interface          string            `json:"interface"`
	VRID               int               `json:"vrid"`
	Version            int               `json:"version"`
	State              string            `json:"state"`
	ConfiguredPriority int               `json:"configured_priority"`
	EffectivePriority  int               `json:"effective_priority"`
	Source             string            `json:"source"`
	Master             string            `json:"master,omitempty"`
	MasterPriority     int               `json:"master_priority"`
	AdvertInt          string            `json:"advert_int"`
	MasterAdvertInt    string            `json:"master_advert_int"`
	VIPs               []string          `json:"vips"`
	VIPsInstalled      bool              `json:"vips_installed"`
	LastTransition     time.Time         `json:"last_transition"`
	LastReason         string            `json:"last_reason"`
	Tracked            []TrackedStatus   `json:"tracked,omitempty"`
	SyncGroup          string            `json:"sync_group,omitempty"`
	SyncGroupState     string            `json:"sync_group_state,omitempty"`
	Counters           InstanceCounters  `json:"counters"`
	Drops              map[string]uint64 `json:"drops"`
}

// TrackedStatus shows one tracked script or interface.
type TrackedStatus struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Status string `json:"status"`
}

// InstanceCounters are an instance's counters.
type InstanceCounters struct {
	AdvertsSent     uint64 `json:"adverts_sent"`
	AdvertsReceived uint64 `json:"adverts_received"`
	Prio0Sent       uint64 `json:"prio0_sent"`
	Prio0Received   uint64 `json:"prio0_received"`
	BecameMaster    uint64 `json:"became_master"`
	ReleasedMaster  uint64 `json:"released_master"`
	Transitions     uint64 `json:"transitions"`
	SendErrors      uint64 `json:"send_errors"`
	Dropped         uint64 `json:"dropped"`
}

// ReadStatus reads a status file.
func ReadStatus(path string) (*Status, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("status %s: %w", path, err)
	}
	return &s, nil
}

// writeStatus replaces path atomically.
func writeStatus(path string, s *Status) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("status dir: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}
