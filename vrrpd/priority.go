package vrrpd

// ScriptStatus is what a tracked script currently says.
type ScriptStatus int

// Script statuses. StatusInit means the script has not finished a run yet:
// it adds no weight, and a weight-0 script holds its instances in
// Initialize until it first reports.
const (
	StatusInit ScriptStatus = iota
	StatusOK
	StatusFailed
)

func (s ScriptStatus) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusFailed:
		return "FAILED"
	}
	return "INIT"
}

// Tracked is the state of one tracked object (script or interface) as seen
// by an instance: its weight and whether it is up.
type Tracked struct {
	Name    string
	Weight  int
	Reverse bool
	Status  ScriptStatus
}

// up reports the tracked object's state after applying reverse.
func (t Tracked) up() bool {
	ok := t.Status == StatusOK
	if t.Reverse {
		return !ok
	}
	return ok
}

// contribution is what the tracked object adds to the priority, following
// keepalived: a positive weight is added while up, a negative weight is
// added (subtracted) while down; nothing while the state is unknown.
func (t Tracked) contribution() int {
	if t.Weight == 0 || t.Status == StatusInit {
		return 0
	}
	if t.up() {
		if t.Weight > 0 {
			return t.Weight
		}
		return 0
	}
	if t.Weight < 0 {
		return t.Weight
	}
	return 0
}

// faulty reports whether an unweighted tracked object forces FAULT.
func (t Tracked) faulty() bool {
	return t.Weight == 0 && t.Status != StatusInit && !t.up()
}

// EffectivePriority computes keepalived's effective priority: the base
// priority plus every tracked contribution, kept within 1..254. An address
// owner (255) is never changed by tracking.
func EffectivePriority(base int, tracked []Tracked) int {
	if base == PriorityOwner {
		return base
	}
	total := base
	for _, t := range tracked {
		total += t.contribution()
	}
	switch {
	case total < 1:
		return 1
	case total >= PriorityOwner:
		return PriorityOwner - 1
	}
	return total
}

// TrackFault reports whether tracking puts the instance in FAULT, with the
// name of the first faulty object, and whether any unweighted script has
// not yet reported (the instance stays in Initialize meanwhile).
func TrackFault(tracked []Tracked) (fault bool, name string, waiting bool) {
	for _, t := range tracked {
		if t.Weight == 0 && t.Status == StatusInit {
			waiting = true
		}
		if !fault && t.faulty() {
			fault, name = true, t.Name
		}
	}
	return fault, name, waiting
}

// scriptCounter follows keepalived's rise/fall counting for one script.
// result runs from 0 to rise+fall-1; the script is OK when result >= rise.
type scriptCounter struct {
	rise, fall int
	result     int
	status     ScriptStatus
}

func newScriptCounter(rise, fall int, initFail bool) *scriptCounter {
	c := &scriptCounter{rise: rise, fall: fall, result: rise - 1}
	if initFail {
		c.result = 0
		c.status = StatusFailed
	}
	return c
}

// record feeds one run's outcome and reports whether the status changed.
func (c *scriptCounter) record(success bool) bool {
	old := c.status
	if success {
		if c.result < c.rise-1 {
			c.result++
		} else {
			c.result = c.rise + c.fall - 1
			c.status = StatusOK
		}
	} else {
		if c.result > c.rise {
			c.result--
		} else {
			c.result = 0
			c.status = StatusFailed
		}
	}
	return c.status != old
}
