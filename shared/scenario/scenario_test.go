package scenario_test

import (
	"context"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
	"github.com/examina-dev/examina-serverless/shared/scenario"
)

var _ pipeline.Gate = (*ratelimit.Gate)(nil)

func TestMinimum(t *testing.T) {
	tests := []struct {
		n, workers, limit int
		want              time.Duration
	}{
		{27, 10, 30, 600 * time.Millisecond},               // 3 rounds of answers; the limit never binds
		{27, 10, 10, 2*time.Second + 200*time.Millisecond}, // third window plus one answer
		{30, 30, 10, 2*time.Second + 200*time.Millisecond},
		{31, 30, 30, time.Second + 200*time.Millisecond},
		{0, 10, 30, 0},
	}
	for _, tt := range tests {
		if got := scenario.Minimum(tt.n, tt.workers, tt.limit, time.Second, 200*time.Millisecond); got != tt.want {
			t.Errorf("Minimum(%d, %d, %d) = %v, want %v", tt.n, tt.workers, tt.limit, got, tt.want)
		}
	}
}

// TestScenario is the scenario (27 exercises, 10 workers, 30 requests per
// scaled minute) and a harder one where the limit binds (10 per window): 0 degraded and
// no 429 at all, because the client-side limit keeps the run under the server's. How
// close the run comes to the minimum is a benchmark figure (examina bench --scenario
// rate-limited), never a timed assertion: the machines are shared and noisy.
//
// The client's margin is a tenth of the window here, not the product's hundredth: time
// scaling turns a minute into a second, so the product's 600 ms margin for network skew
// becomes 10 ms, less than the scheduling delay of a loaded machine running the race
// detector (one such run saw a request counted by the fake server 10+ ms after its
// predecessor's slot expired, and got a 429).
func TestScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs in real time")
	}
	const slack = 100 * time.Millisecond
	for _, cfg := range []scenario.Config{{Slack: slack}, {Limit: 10, Slack: slack}} {
		f, err := scenario.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(f)
		if f.Degraded != 0 || f.OK != 27 {
			t.Errorf("%d ok, %d degraded; want 27 ok", f.OK, f.Degraded)
		}
		if f.Limited != 0 {
			t.Errorf("%d requests refused with 429; the client-side limit should prevent them", f.Limited)
		}
		if f.Elapsed < f.Minimum {
			t.Errorf("finished in %v, faster than the %v the limit allows: the fake server does not enforce its limit", f.Elapsed, f.Minimum)
		}
	}
}

// TestScenarioWithoutClientLimit shows the retry layer alone: every exercise still
// succeeds through 429s and retry-after, only slower.
func TestScenarioWithoutClientLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs in real time")
	}
	f, err := scenario.Run(context.Background(), scenario.Config{Limit: 10, RPM: -1, Latency: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(f)
	if f.Degraded != 0 || f.Limited == 0 {
		t.Errorf("%d degraded, %d refused; want 0 degraded after some 429s", f.Degraded, f.Limited)
	}
}
