package bench

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/stack/emulator"
	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
)

// TestCloudLimitedScenario runs the cloud-rate-limited scenario small on the local
// stack (two deployments of template.yaml): both runs complete every exercise, none
// degraded; the run without the budget logs no budget work and the fleet run's
// provider calls all go through the budget in DynamoDB. Limits are high enough for a
// real-minute window to keep it short; its figures are the benchmark's, not asserted.
// In CI a missing moto or aws-lambda-rie fails it.
func TestCloudLimitedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys the local stack twice")
	}
	const n = 12
	s, err := CloudLimited(context.Background(), CloudLimitedConfig{Exercises: n, Batch: 4, RPM: 120, TPM: 120000,
		Latency: 200 * time.Millisecond, FailPosition: 3, FailCalls: 3, JobTimeout: 3 * time.Minute, Dir: t.TempDir()})
	if errors.Is(err, emulator.ErrNotInstalled) || errors.Is(err, lambdarie.ErrNotInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 2 {
		t.Fatalf("rows %+v", s.Rows)
	}
	for _, r := range s.Rows {
		t.Logf("%s: %v", r.Name, r.Values)
		if r.Values["degraded"] != 0 || r.Values["requests"] < n+3 || r.Values["invocations"] < n {
			t.Errorf("%s: want 0 degraded, at least %d requests (3 answered 500) and %d invocations: %v", r.Name, n+3, n, r.Values)
		}
		if r.Values["redelivery_s"] <= 0 {
			t.Errorf("%s: the transiently failing exercise was never tried again after a 500: %v", r.Name, r.Values)
		}
	}
	if c := s.Figures["nogate_budget_lines"]; c != 0 {
		t.Errorf("Rpm=Tpm=-1: %v \"fleet budget\" log lines, want none (the budget is off)", c)
	}
	if calls, req := s.Figures["fleet_budget_calls"], s.Figures["fleet_budget_requests"]; calls < n || req < calls {
		t.Errorf("the fleet run's calls did not go through the budget: %v calls, %v DynamoDB requests (want >= %d calls, >= 1 request each)", calls, req, n)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	at := func(b, e float64, status int) providerCall {
		return providerCall{begin: t0.Add(time.Duration(b * float64(time.Second))), end: t0.Add(time.Duration(e * float64(time.Second))), status: status}
	}
	tests := []struct {
		name  string
		calls []providerCall
		per   []int
		idle  time.Duration
	}{
		{name: "none"},
		{name: "overlapping calls, a 429 ignored, an idle gap",
			// in flight 0-1 and 0.5-2, a 429 at 3, then 5-6 (idle 2-5), 61-62 in window 2
			calls: []providerCall{at(0.5, 2, 200), at(0, 1, 200), at(3, 3, 429), at(5, 6, 500), at(61, 62, 200)},
			per:   []int{3, 1}, idle: 55 * time.Second},
		{name: "an empty window between", calls: []providerCall{at(0, 1, 200), at(130, 131, 200)}, per: []int{1, 0, 1}, idle: 129 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			per, idle := timeline(tt.calls, t0, time.Minute)
			if !slices.Equal(per, tt.per) || idle != tt.idle {
				t.Errorf("got %v, %v; want %v, %v", per, idle, tt.per, tt.idle)
			}
		})
	}
}
