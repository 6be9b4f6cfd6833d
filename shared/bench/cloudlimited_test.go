package bench

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// TestCloudLimitedScenario runs the cloud-rate-limited scenario small on moto: both
// runs complete every exercise, none degraded, and the fleet run defers instead of
// sleeping and goes through the budget. Its figures are the benchmark's, not asserted.
func TestCloudLimitedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto")
	}
	s, err := CloudLimited(context.Background(), CloudLimitedConfig{Exercises: 12, Batch: 4, Window: 3 * time.Second,
		Latency: 200 * time.Millisecond, RPM: 10, TPM: 6000, FailPosition: 3, FailCalls: 3})
	if errors.Is(err, mototest.ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 2 {
		t.Fatalf("rows %+v", s.Rows)
	}
	for _, r := range s.Rows {
		if r.Values["degraded"] != 0 || r.Values["requests"] < 12 {
			t.Errorf("%s: %v", r.Name, r.Values)
		}
	}
	if f := s.Rows[1].Values; f["ddb_per_call"] < 2 || f["deferrals"] < 1 {
		t.Errorf("the fleet run did not go through the budget or never deferred: %v", f)
	}
}
