// Package scenario runs the rate-limit scenario of the benchmark: a fake
// OpenAI-compatible server enforcing N requests per (time-scaled) window with 429 and
// retry-after, a course of exercises analysed through pipeline.Analyzer by parallel
// workers behind a ratelimit.Gate, and the figures that say how close the run came to
// the minimum time the limit allows.
package scenario

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// Config describes a scenario. Zero fields take the defaults of the scenario:
// 27 exercises, 10 workers, a server admitting 30 requests per window, a window of one
// second standing for a minute, 200 ms per answer, and a client-side limit equal to the
// server's.
type Config struct {
	Exercises int
	Workers   int
	// Limit is the server's requests per Window.
	Limit  int
	Window time.Duration
	// Latency is the server's time to answer.
	Latency time.Duration
	// RPM is the client-side limit per Window (default Limit; -1: no client-side
	// limit, only the retry layer's handling of 429s).
	RPM int
	// Slack is the client-side limit's margin for skew between its clock and the
	// server's (default: the gate's, Window/100).
	Slack time.Duration
}

func (c Config) withDefaults() Config {
	if c.Exercises <= 0 {
		c.Exercises = 27
	}
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.Limit <= 0 {
		c.Limit = 30
	}
	if c.Window <= 0 {
		c.Window = time.Second
	}
	if c.Latency <= 0 {
		c.Latency = 200 * time.Millisecond
	}
	if c.RPM == 0 {
		c.RPM = c.Limit
	}
	return c
}

// Figures is the outcome of a scenario.
type Figures struct {
	Config   Config
	OK       int // exercises analysed
	Degraded int // exercises that fell back to the default analysis
	// Requests is what the server received; Limited how many it refused with 429.
	Requests, Limited int
	Retries           int           // attempts beyond the first, summed
	WaitMS            int64         // backoff waits of the retry layer, summed
	GateWait          time.Duration // time callers spent waiting in the gate for budget
	LowestConcurrency int           // the adaptive limit's lowest value
	Elapsed           time.Duration
	// Minimum is the least time the limit allows: the later of the last window the
	// requests need (one per exercise) plus one answer, and the answers the workers
	// can get through back to back.
	Minimum time.Duration
}

// Overhead is how much longer than Minimum the run took, as a fraction (0.05 = 5%).
func (f Figures) Overhead() float64 {
	if f.Minimum <= 0 {
		return 0
	}
	return float64(f.Elapsed-f.Minimum) / float64(f.Minimum)
}

func (f Figures) String() string {
	return fmt.Sprintf("%d exercises, %d workers, server limit %d per %s, client limit %d: %d ok, %d degraded, "+
		"%d requests (%d refused with 429), %d retries, elapsed %s vs minimum %s (%+.1f%%), gate waits %s, lowest concurrency %d",
		f.Config.Exercises, f.Config.Workers, f.Config.Limit, f.Config.Window, f.Config.RPM, f.OK, f.Degraded,
		f.Requests, f.Limited, f.Retries, f.Elapsed.Round(time.Millisecond), f.Minimum.Round(time.Millisecond),
		100*f.Overhead(), f.GateWait.Round(time.Millisecond), f.LowestConcurrency)
}

// Minimum is the least time n requests take under limit per window answered in latency
// each by at most workers at once, when the server's window starts with the first
// request.
func Minimum(n, workers, limit int, window, latency time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	byLimit := time.Duration((n-1)/max(limit, 1))*window + latency
	rounds := (n + max(workers, 1) - 1) / max(workers, 1)
	byWorkers := time.Duration(rounds) * latency
	return max(byLimit, byWorkers)
}

// Run starts the fake server, analyses cfg.Exercises exercises with cfg.Workers
// workers through pipeline.Analyzer and a ratelimit.Gate, and returns the figures.
func Run(ctx context.Context, cfg Config) (Figures, error) {
	cfg = cfg.withDefaults()
	srv := fakeopenai.New(fakeopenai.Config{Limit: cfg.Limit, Window: cfg.Window, Latency: cfg.Latency, APIKey: "fake-key-0123456789"})
	defer srv.Close()
	client, err := openai.New(openai.Config{Name: "openai", BaseURL: srv.BaseURL(), APIKey: "fake-key-0123456789",
		Model: "fake-model", Strict: true, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers}}})
	if err != nil {
		return Figures{}, err
	}
	a := &pipeline.Analyzer{Provider: client, Policy: retry.DefaultPolicy(), Language: "en", CallTimeout: 30 * time.Second}
	var gate *ratelimit.Gate
	if cfg.RPM > 0 {
		gate = ratelimit.NewGate(ratelimit.Config{RPM: cfg.RPM, Per: cfg.Window, Slack: cfg.Slack, MaxConcurrency: cfg.Workers})
		a.Gate = gate
	}
	course := examina.Course{Code: "BENCH", Name: "Rate-limit scenario", Language: "en"}
	exercises := make(chan examina.Exercise)
	type outcome struct {
		meta examina.Meta
		err  error
	}
	results := make(chan outcome, cfg.Exercises)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ex := range exercises {
				out, err := a.Analyze(ctx, course, ex, "")
				results <- outcome{out.Meta, err}
			}
		}()
	}
	for i := range cfg.Exercises {
		ex := examina.Exercise{ID: fmt.Sprintf("ex-%02d", i+1), Number: fmt.Sprint(i + 1), Position: i,
			Text: fmt.Sprintf("Exercise %d: solve the linear system x + %d y = %d, x - y = 1 by Gaussian elimination.", i+1, i+2, i+3)}
		select {
		case exercises <- ex:
		case <-ctx.Done():
		}
	}
	close(exercises)
	wg.Wait()
	close(results)
	f := Figures{Config: cfg, Elapsed: time.Since(start),
		Minimum: Minimum(cfg.Exercises, cfg.Workers, cfg.Limit, cfg.Window, cfg.Latency)}
	for r := range results {
		if r.err != nil && ctx.Err() != nil {
			return f, ctx.Err()
		}
		if r.meta.Status == examina.StatusOK {
			f.OK++
		} else {
			f.Degraded++
		}
		f.Retries += max(r.meta.Attempts-1, 0)
		f.WaitMS += r.meta.WaitMS
	}
	st := srv.Stats()
	f.Requests, f.Limited = st.Requests, st.Limited
	if gate != nil {
		gs := gate.Stats()
		f.GateWait, f.LowestConcurrency = gs.Waited, gs.LowestLimit
	} else {
		f.LowestConcurrency = cfg.Workers
	}
	return f, nil
}
