package lbd

import (
	"testing"
)

// TestDiffGoroutinePath runs the differential tests with every frontend on
// goroutines (LBD_EVENT_LOOP=0): the event loop hands connections whose
// requests carry a body, Expect or Upgrade to that path for the rest of
// their life, so it must stay as conformant as the loop.
func TestDiffGoroutinePath(t *testing.T) {
	t.Setenv("LBD_EVENT_LOOP", "0")
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Wire", TestDiffWire},
		{"ServerConnectionReuse", TestDiffServerConnectionReuse},
		{"HTTPLog", TestDiffHTTPLog},
		{"Stats", TestDiffStats},
		{"Article", TestDiffArticle},
		{"WeightsAndAlgorithms", TestDiffWeightsAndAlgorithms},
		{"HeaderRulesAndInsertCookie", TestDiffHeaderRulesAndInsertCookie},
		{"ServerDiesAndReturns", TestDiffServerDiesAndReturns},
		{"ExpectContinue", TestDiffExpectContinue},
		{"ServerErrors", TestDiffServerErrors},
		{"ByteCounters", TestByteCounters},
	} {
		t.Run(tc.name, tc.run)
	}
}
