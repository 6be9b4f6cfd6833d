package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/stack"
	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// CloudLimitedConfig configures the cloud-rate-limited scenario.
type CloudLimitedConfig struct {
	Exercises int // default 100
	// Batch is the template's BatchSize: the analyze event source's
	// MaximumConcurrency, one message per invocation (default 10).
	Batch int
	// Window is the provider's rate-limit window (default a real minute: the deployed
	// product's time constants, SQS delays in whole seconds, its 3 s MaxWait and 2%
	// headroom, are real seconds and cannot be scaled).
	Window  time.Duration
	Latency time.Duration // the provider's answer time (default 1s)
	// RPM and TPM are the provider's limits per Window across all callers (defaults
	// 60 and 36000), and the fleet run's Rpm and Tpm; every answer uses
	// InputTokens+OutputTokens (500+250, so the token limit binds: 48 calls a minute).
	RPM, TPM                  int
	InputTokens, OutputTokens int
	// FailPosition is the exercise whose first FailCalls provider calls answer 500, so
	// its first delivery fails transiently (default position 7, 3 calls).
	FailPosition, FailCalls int
	// Template is the SAM template deployed (default the repository's template.yaml);
	// CodeRoot the root of its CodeUri paths (default the template's directory).
	Template, CodeRoot string
	// Dir is where the two stacks' state directories are made (default the system's
	// temporary directory); they are removed after a run that succeeds, unless
	// KeepDirs (to read the functions' logs afterwards).
	Dir      string
	KeepDirs bool
	// JobTimeout bounds each job from its upload to its completion (default 20 min).
	JobTimeout time.Duration
	Command    string
}

func (c CloudLimitedConfig) withDefaults() (CloudLimitedConfig, error) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Exercises, 100)
	def(&c.Batch, 10)
	def(&c.RPM, 60)
	def(&c.TPM, 36000)
	def(&c.InputTokens, 500)
	def(&c.OutputTokens, 250)
	def(&c.FailPosition, 7)
	def(&c.FailCalls, 3)
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.Latency <= 0 {
		c.Latency = time.Second
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 20 * time.Minute
	}
	if c.Command == "" {
		c.Command = "examina bench --scenario cloud-rate-limited"
	}
	if c.Batch < 2 {
		return c, fmt.Errorf("bench: cloud-rate-limited: Batch %d: the template's BatchSize is at least 2", c.Batch)
	}
	if c.Template == "" {
		root, err := lambdarie.RepoRoot()
		if err != nil {
			return c, fmt.Errorf("bench: cloud-rate-limited deploys the repository's template.yaml: run it inside the repository: %w", err)
		}
		c.Template = filepath.Join(root, "template.yaml")
	}
	if c.CodeRoot == "" {
		c.CodeRoot = filepath.Dir(c.Template)
	}
	return c, nil
}

// limitedJob is the outcome of one job of the scenario.
type limitedJob struct {
	makespan          time.Duration // first provider request to last provider answer
	toCompleted       time.Duration // upload to the job's META completed
	requests, limited int
	admitted          int
	degraded          int
	log               FunctionLog   // the analyze function's log
	redelivery        time.Duration // a 500 answer of the transiently failed item to its next request
	perWindow         []int         // requests answered (not 429) per Window from the first request
	longestIdle       time.Duration // the longest time without a request answered or in flight at the provider
}

// CloudLimited runs the cloud-rate-limited scenario on the local stack (shared/stack):
// template.yaml deployed with Provider=openai and BaseUrl a fake OpenAI-style provider
// enforcing one request and one token limit per Window for every caller (429 +
// retry-after, x-ratelimit-* headers); the course uploaded to input/ with the S3 API,
// so S3's notification, dispatch, the state machine, SQS, the stack's event-source
// poller and the analyze bootstraps under aws-lambda-rie all run as deployed. Two
// deployments in turn: Rpm=Tpm=-1 (no fleet budget: what a deployment without it does)
// and Rpm/Tpm the provider's limits (the fleet budget in DynamoDB).
func CloudLimited(ctx context.Context, cfg CloudLimitedConfig) (*Scenario, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	perCall := cfg.InputTokens + cfg.OutputTokens
	minimum := TokenMinimum(cfg.Exercises, cfg.RPM, cfg.TPM, perCall, cfg.Window, cfg.Latency)
	s := &Scenario{
		Name: "cloud-rate-limited",
		Title: fmt.Sprintf("%d exercises on the local stack (template.yaml, BatchSize %d), fake provider: %d requests and %d tokens per %v for all invocations, %v per answer",
			cfg.Exercises, cfg.Batch, cfg.RPM, cfg.TPM, cfg.Window, cfg.Latency),
		Command: cfg.Command,
		Params: map[string]any{"exercises": cfg.Exercises, "batch": cfg.Batch, "window_ms": ms(cfg.Window), "latency_ms": ms(cfg.Latency),
			"rpm": cfg.RPM, "tpm": cfg.TPM, "answer_tokens": perCall, "provider": "openai (BaseUrl: the fake)",
			"transient_failure": fmt.Sprintf("position %d, first %d calls answer 500", cfg.FailPosition, cfg.FailCalls)},
		Columns: []Column{
			{"time_s", "time (s)", "%.1f"},
			{"ratio", "x minimum", "%.2f"},
			{"completed_s", "upload to completed (s)", "%.1f"},
			{"requests", "provider requests", "%.0f"},
			{"limited_pct", "429s", "%.1f%%"},
			{"degraded", "degraded", "%.0f"},
			{"invocations", "invocations", "%.0f"},
			{"billed_ratio", "billed / provider time", "%.2f"},
			{"deferrals", "deferrals", "%.0f"},
			{"unbooked", "of them unbooked", "%.0f"},
			{"resent", "re-sent to a slot", "%.0f"},
			{"herd", "most due back in one second", "%.0f"},
			{"ddb_per_call", "budget DynamoDB req/call", "%.2f"},
			{"redelivery_s", "failed item retried after (s)", "%.1f"},
		},
	}
	for i, fleet := range []bool{false, true} {
		name, pfx, params := "no gate (Rpm=Tpm=-1)", "nogate_", map[string]string{"Rpm": "-1", "Tpm": "-1"}
		if fleet {
			name, pfx = fmt.Sprintf("fleet budget (Rpm=%d, Tpm=%d)", cfg.RPM, cfg.TPM), "fleet_"
			params = map[string]string{"Rpm": strconv.Itoa(cfg.RPM), "Tpm": strconv.Itoa(cfg.TPM)}
		}
		j, err := runStackJob(ctx, cfg, params, uint64(200+i))
		if err != nil {
			return nil, fmt.Errorf("bench: cloud-rate-limited, %s: %w", name, err)
		}
		provider := time.Duration(j.admitted) * cfg.Latency
		row := map[string]float64{"time_s": j.makespan.Seconds(), "ratio": j.makespan.Seconds() / minimum.Seconds(),
			"completed_s": j.toCompleted.Seconds(), "requests": float64(j.requests),
			"limited_pct": 100 * float64(j.limited) / float64(max(j.requests, 1)), "degraded": float64(j.degraded),
			"invocations": float64(j.log.Invocations), "billed_ratio": j.log.Billed.Seconds() / provider.Seconds(),
			"deferrals": float64(j.log.Budget.Deferred), "unbooked": float64(j.log.Budget.Unbooked), "redelivery_s": j.redelivery.Seconds(),
			"resent": float64(j.log.Resent), "herd": float64(j.log.ResentHerd)}
		if j.log.Budget.Calls > 0 {
			row["ddb_per_call"] = float64(j.log.Budget.Requests) / float64(j.log.Budget.Calls)
		}
		s.Rows = append(s.Rows, Row{Name: name, Values: row})
		if fleet {
			s.target("fleet: 429s of provider requests", "<=", row["limited_pct"], 2, "%")
			s.target("fleet: makespan over the limit's minimum", "<=", row["ratio"], 1.15, "x")
			s.target("fleet: degraded", "<=", row["degraded"], 0, "")
			s.target("fleet: billed function time over the provider's latencies", "<=", row["billed_ratio"], 1.3, "x")
			s.target("fleet: transiently failed item redelivered after (s)", "<=", row["redelivery_s"], 30, "s")
			if j.log.Budget.Calls > 0 {
				s.target("fleet: budget DynamoDB requests per provider call", "<=", row["ddb_per_call"], 2, "")
			} else {
				s.skip("fleet: budget DynamoDB requests per provider call", "<=", 2, "", "no \"fleet budget\" line with calls in the analyze function's log")
			}
		}
		s.figure(pfx+"time_s", j.makespan.Seconds())
		s.figure(pfx+"completed_s", j.toCompleted.Seconds())
		s.figure(pfx+"invocations", float64(j.log.Invocations))
		s.figure(pfx+"billed_s", j.log.Billed.Seconds())
		s.figure(pfx+"provider_s", provider.Seconds())
		s.figure(pfx+"budget_lines", float64(j.log.BudgetLines))
		s.figure(pfx+"budget_calls", float64(j.log.Budget.Calls))
		s.figure(pfx+"budget_requests", float64(j.log.Budget.Requests))
		s.figure(pfx+"budget_conflicts", float64(j.log.Budget.Conflicts))
		s.figure(pfx+"budget_past_horizon", float64(j.log.Budget.PastHorizon))
		s.figure(pfx+"budget_waited_s", j.log.Budget.Waited.Seconds())
		s.figure(pfx+"failed_deliveries", float64(j.log.Failed))
		s.figure(pfx+"longest_idle_s", j.longestIdle.Seconds())
		for w, n := range j.perWindow {
			s.figure(fmt.Sprintf("%sanswered_in_window_%d", pfx, w+1), float64(n))
		}
		if j.log.Resent > 0 {
			s.figure(pfx+"resent_mean_delay_s", j.log.ResentDelay.Seconds()/float64(j.log.Resent))
		}
	}
	s.figure("minimum_s", minimum.Seconds())
	s.Notes = append(s.Notes,
		fmt.Sprintf("minimum = as many calls per window as both limits allow (%d), windows starting with the first request, plus one answer; time = first provider request to last provider answer", min(cfg.RPM, cfg.TPM/perCall)),
		"billed = the sum of the analyze function's RIE REPORT Durations (its log on the stack); provider time = admitted calls x latency",
		"deferrals, unbooked, budget DynamoDB req/call (over the calls the budget admitted) = sums of the analyze function's \"fleet budget\" log lines",
		"re-sent to a slot = the analyze function's \"exercise deferred to its rate-limit slot\" lines (budget deferrals and provider Retry-After waits over MaxWait, both runs); most due back in one second = the largest count of them whose time + delay falls in the same second",
		"answered_in_window_N = provider calls answered (not 429) in the N-th window from the first request; longest_idle_s = the longest time with no answered call in flight at the provider",
		"failed item retried after = the longest gap from a 500 answer of the transiently failing exercise to its next request")
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}

// providerCall is one request the fake provider answered, as the bench saw it.
type providerCall struct {
	begin, end time.Time
	status     int
	marked     bool // a request of the exercise that fails transiently
}

// recordingProvider wraps the fake provider's handler and records every request's
// arrival, answer and status.
type recordingProvider struct {
	next   http.Handler
	marker []byte
	mu     sync.Mutex
	calls  []providerCall
}

func (p *recordingProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := providerCall{begin: time.Now()}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.marked = bytes.Contains(body, p.marker)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	p.next.ServeHTTP(sw, r)
	c.end, c.status = time.Now(), sw.status
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
}

func (p *recordingProvider) recorded() []providerCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]providerCall(nil), p.calls...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// runStackJob deploys the template with params (and the scenario's provider and
// batch), runs one job of the scenario through it and reads its figures.
func runStackJob(ctx context.Context, cfg CloudLimitedConfig, params map[string]string, seed uint64) (j limitedJob, err error) {
	var fmu sync.Mutex
	failures := 0
	marker := fmt.Sprintf("Exercise %d:", cfg.FailPosition+1)
	fake := fakeopenai.NewHandler(fakeopenai.Config{Limit: cfg.RPM, TokenLimit: cfg.TPM, Window: cfg.Window, Latency: cfg.Latency,
		Respond: func(_ int, r fakeopenai.Request) fakeopenai.Answer {
			a := fakeopenai.Answer{InputTokens: cfg.InputTokens, OutputTokens: cfg.OutputTokens}
			if bytes.Contains(r.Body, []byte(marker)) {
				fmu.Lock()
				failures++
				n := failures
				fmu.Unlock()
				if n <= cfg.FailCalls {
					a.Status, a.Body, a.InputTokens, a.OutputTokens = 500, `{"error":{"message":"The server had an error","type":"server_error"}}`, 1, 1
				}
			}
			return a
		}})
	rec := &recordingProvider{next: fake, marker: []byte(marker)}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	dir, err := os.MkdirTemp(cfg.Dir, "examina-bench-stack-")
	if err != nil {
		return j, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (the stack's logs are kept in %s)", err, filepath.Join(dir, "logs"))
			return
		}
		if !cfg.KeepDirs {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return j, err
	}
	engineLog, err := os.Create(filepath.Join(dir, "logs", "engine.log"))
	if err != nil {
		return j, err
	}
	defer engineLog.Close()
	p := map[string]string{"Provider": "openai", "BaseUrl": srv.URL + "/v1", "BatchSize": strconv.Itoa(cfg.Batch)}
	for k, v := range params {
		p[k] = v
	}
	st, err := stack.Up(ctx, stack.Config{Dir: dir, Template: cfg.Template, CodeRoot: cfg.CodeRoot, Parameters: p,
		Logger: slog.New(slog.NewJSONHandler(engineLog, nil))})
	if err != nil {
		return j, err
	}
	closed := false
	defer func() {
		if !closed {
			_ = st.Close()
		}
	}()

	cf := Course(cfg.Exercises, seed)
	cf.Course.Code = fmt.Sprintf("L%d", seed)
	for i := range cf.Exercises {
		cf.Exercises[i].Text = fmt.Sprintf("Exercise %d: %s", i+1, cf.Exercises[i].Text)
	}
	data, err := courseJSON(cf)
	if err != nil {
		return j, err
	}
	awsCfg := st.AWSConfig()
	objects := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), st.Env()["TABLE_NAME"])
	uploaded := time.Now()
	if _, err := objects.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.Env()["BUCKET_NAME"]),
		Key: aws.String("input/" + cf.Course.Code + "/limited.json"), Body: bytes.NewReader(data), ContentType: aws.String("application/json")}); err != nil {
		return j, fmt.Errorf("uploading the course: %w", err)
	}
	job, err := waitJob(ctx, store, cf.Course.Code, cfg.JobTimeout)
	if err != nil {
		return j, err
	}
	j.toCompleted = time.Since(uploaded)
	results, err := store.Results(ctx, job.ID)
	if err != nil {
		return j, err
	}
	for _, r := range results {
		if r.Analysis.Status == examina.StatusDegraded {
			j.degraded++
		}
	}
	// The invocation that counted the last result may still be ending: its REPORT line
	// comes when it returns.
	for deadline := time.Now().Add(30 * time.Second); len(st.Pool().Busy("AnalyzeFunction")) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	analyzeLog := st.FunctionLog("AnalyzeFunction")
	closed = true
	if err := st.Close(); err != nil {
		return j, fmt.Errorf("closing the stack: %w", err)
	}
	f, err := os.Open(analyzeLog)
	if err != nil {
		return j, fmt.Errorf("the analyze function's log: %w", err)
	}
	defer f.Close()
	if j.log, err = ParseFunctionLog(f); err != nil {
		return j, fmt.Errorf("%s: %w", analyzeLog, err)
	}

	calls := rec.recorded()
	fs := fake.Stats()
	j.requests, j.limited, j.admitted = fs.Requests, fs.Limited, fs.Admitted
	var first, last time.Time
	var lastFailure time.Time // the answer of the marked exercise's latest 500
	for _, c := range calls {
		if first.IsZero() || c.begin.Before(first) {
			first = c.begin
		}
		if c.status != http.StatusTooManyRequests && c.end.After(last) {
			last = c.end
		}
		if !c.marked {
			continue
		}
		if !lastFailure.IsZero() && c.begin.After(lastFailure) {
			j.redelivery = max(j.redelivery, c.begin.Sub(lastFailure))
			lastFailure = time.Time{}
		}
		if c.status >= 500 {
			lastFailure = c.end
		}
	}
	j.makespan = last.Sub(first)
	j.perWindow, j.longestIdle = timeline(calls, first, cfg.Window)
	return j, nil
}

// timeline counts the calls answered (not 429) per window from first, and finds the
// longest time the provider had none of them in flight.
func timeline(calls []providerCall, first time.Time, window time.Duration) ([]int, time.Duration) {
	var answered []providerCall
	for _, c := range calls {
		if c.status != http.StatusTooManyRequests {
			answered = append(answered, c)
		}
	}
	slices.SortFunc(answered, func(a, b providerCall) int { return a.begin.Compare(b.begin) })
	var per []int
	var idle time.Duration
	var busyUntil time.Time
	for _, c := range answered {
		w := int(c.begin.Sub(first) / window)
		for len(per) <= w {
			per = append(per, 0)
		}
		per[w]++
		if !busyUntil.IsZero() && c.begin.After(busyUntil) {
			idle = max(idle, c.begin.Sub(busyUntil))
		}
		if c.end.After(busyUntil) {
			busyUntil = c.end
		}
	}
	return per, idle
}

// waitJob waits for the job of the course code to complete and returns it; a failed
// job, one that makes no progress for five minutes, or timeout is an error.
func waitJob(ctx context.Context, store *dynamo.Store, code string, timeout time.Duration) (examina.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var job examina.Job
	lastDone, progressed := -1, time.Now()
	for {
		if job.ID == "" {
			jobs, err := store.ListJobs(ctx)
			if err != nil && ctx.Err() == nil {
				return job, fmt.Errorf("listing the jobs: %w", err)
			}
			for _, jb := range jobs {
				if jb.Course.Code == code {
					job = jb
				}
			}
		} else {
			jb, err := store.GetJob(ctx, job.ID)
			if err != nil && ctx.Err() == nil {
				return job, fmt.Errorf("job %s: %w", job.ID, err)
			}
			if err == nil {
				job = jb
			}
		}
		switch {
		case job.Status == examina.JobCompleted:
			return job, nil
		case job.Status == examina.JobFailed || job.Status == examina.JobRejected:
			return job, fmt.Errorf("job %s %s: %s %v", job.ID, job.Status, job.Reason, job.Problems)
		}
		if job.Done != lastDone {
			lastDone, progressed = job.Done, time.Now()
		} else if time.Since(progressed) > 5*time.Minute {
			return job, fmt.Errorf("job %q of course %s: no progress for 5 minutes at %d of %d (status %q)", job.ID, code, job.Done, job.Total, job.Status)
		}
		select {
		case <-ctx.Done():
			return job, fmt.Errorf("job %q of course %s at %d of %d (status %q) after %v: %w", job.ID, code, job.Done, job.Total, job.Status, timeout, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
