package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/fleetgate"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// CloudLimitedConfig configures the cloud-rate-limited scenario.
type CloudLimitedConfig struct {
	Exercises int           // default 100
	Batch     int           // concurrent analyze invocations (default 10, BatchSize)
	Window    time.Duration // stands for a minute (default 10s)
	Latency   time.Duration // the provider's answer time (default 1s)
	// RPM and TPM are the provider's limits per Window across all callers (defaults
	// 30 and 18000); every answer uses InputTokens+OutputTokens (500+250).
	RPM, TPM                  int
	InputTokens, OutputTokens int
	// MaxWait is the longest an invocation sleeps for its slot (default 300ms; the
	// template's 3s stands for a real minute).
	MaxWait time.Duration
	// Headroom slows the fleet's pace by this fraction (default 0.1). SQS delays are
	// whole seconds and a deferred call may start up to a second after its slot: a
	// second is under 2% of a real minute (the product's 0.02) but 10% of this
	// scenario's scaled one.
	Headroom float64
	// FailPosition is the exercise whose first FailCalls provider calls answer 500, so
	// its first delivery fails transiently (default position 7, 3 calls).
	FailPosition, FailCalls int
	Command                 string
}

func (c CloudLimitedConfig) withDefaults() CloudLimitedConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Exercises, 100)
	def(&c.Batch, 10)
	def(&c.RPM, 30)
	def(&c.TPM, 18000)
	def(&c.InputTokens, 500)
	def(&c.OutputTokens, 250)
	def(&c.FailPosition, 7)
	def(&c.FailCalls, 3)
	if c.Window <= 0 {
		c.Window = 10 * time.Second
	}
	if c.Latency <= 0 {
		c.Latency = time.Second
	}
	if c.Headroom <= 0 {
		c.Headroom = 0.1
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 300 * time.Millisecond
	}
	if c.Command == "" {
		c.Command = "examina bench --scenario cloud-rate-limited"
	}
	return c
}

// limitedJob is the outcome of one job of the scenario.
type limitedJob struct {
	elapsed           time.Duration
	requests, limited int
	admitted          int
	degraded          int
	invocations       int
	billed            time.Duration
	budgetRequests    int // DynamoDB requests of the fleet budget
	budgetCalls       int
	deferrals         int
	unbooked          int
	redelivery        time.Duration // failure of the transiently failed item to its next receive
	ops               string
}

// CloudLimited runs the cloud-rate-limited scenario: a job of Exercises on moto
// (dispatch, the state machine's fan-out, SQS, the real analyze handler in Batch
// concurrent pollers, each its own function instance), against a fake OpenAI-style
// provider enforcing one request and one token limit per scaled minute across all of
// them (429 + retry-after, x-ratelimit-* headers); once as today (no gate, waits
// slept in the function, failures made visible again by the poller at once) and once
// with the fleet budget in DynamoDB, deferrals re-sent to their slot and failures
// backed off by the function.
func CloudLimited(ctx context.Context, cfg CloudLimitedConfig) (*Scenario, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	cs, err := startCloudStack(ctx, "900")
	if err != nil {
		return nil, err
	}
	defer cs.srv.Close()
	perCall := cfg.InputTokens + cfg.OutputTokens
	minimum := TokenMinimum(cfg.Exercises, cfg.RPM, cfg.TPM, perCall, cfg.Window, cfg.Latency)
	s := &Scenario{
		Name: "cloud-rate-limited",
		Title: fmt.Sprintf("%d exercises on moto, %d concurrent analyze invocations, fake provider: %d requests and %d tokens per scaled minute (%v) for all of them, %v per answer",
			cfg.Exercises, cfg.Batch, cfg.RPM, cfg.TPM, cfg.Window, cfg.Latency),
		Command: cfg.Command,
		Params: map[string]any{"exercises": cfg.Exercises, "batch": cfg.Batch, "window_ms": ms(cfg.Window), "latency_ms": ms(cfg.Latency),
			"rpm": cfg.RPM, "tpm": cfg.TPM, "answer_tokens": perCall, "max_wait_ms": ms(cfg.MaxWait), "headroom": cfg.Headroom,
			"transient_failure": fmt.Sprintf("position %d, first %d calls answer 500", cfg.FailPosition, cfg.FailCalls)},
		Columns: []Column{
			{"time_s", "time (s)", "%.1f"},
			{"ratio", "x minimum", "%.2f"},
			{"requests", "provider requests", "%.0f"},
			{"limited_pct", "429s", "%.1f%%"},
			{"degraded", "degraded", "%.0f"},
			{"billed_ratio", "billed / provider time", "%.2f"},
			{"deferrals", "deferrals", "%.0f"},
			{"unbooked", "of them unbooked", "%.0f"},
			{"ddb_per_call", "budget DynamoDB req/call", "%.2f"},
			{"redelivery_s", "failed item retried after (s)", "%.1f"},
		},
	}
	for i, fleet := range []bool{false, true} {
		name := "today: no gate"
		if fleet {
			name = "fleet budget + deferral"
		}
		j, err := cs.runLimitedJob(ctx, cfg, fleet, uint64(200+i))
		if err != nil {
			return nil, fmt.Errorf("bench: cloud-rate-limited %s: %w", name, err)
		}
		provider := time.Duration(j.admitted) * cfg.Latency
		row := map[string]float64{"time_s": j.elapsed.Seconds(), "ratio": j.elapsed.Seconds() / minimum.Seconds(),
			"requests": float64(j.requests), "limited_pct": 100 * float64(j.limited) / float64(max(j.requests, 1)),
			"degraded": float64(j.degraded), "billed_ratio": j.billed.Seconds() / provider.Seconds(),
			"deferrals": float64(j.deferrals), "unbooked": float64(j.unbooked), "redelivery_s": j.redelivery.Seconds()}
		if j.budgetCalls > 0 {
			row["ddb_per_call"] = float64(j.budgetRequests) / float64(j.budgetCalls)
		}
		s.Rows = append(s.Rows, Row{Name: name, Values: row})
		pfx := "nogate_"
		if fleet {
			pfx = "fleet_"
			s.target("fleet: 429s of provider requests", "<=", row["limited_pct"], 2, "%")
			s.target("fleet: makespan over the limit's minimum", "<=", row["ratio"], 1.15, "x")
			s.target("fleet: degraded", "<=", row["degraded"], 0, "")
			s.target("fleet: billed function time over the provider's latencies", "<=", row["billed_ratio"], 1.3, "x")
			s.target("fleet: transiently failed item redelivered after (s)", "<=", row["redelivery_s"], 30, "s")
			s.target("fleet: budget DynamoDB requests per provider call", "<=", row["ddb_per_call"], 2, "")
			s.Notes = append(s.Notes, "fleet run, AWS requests by role: "+j.ops)
		}
		s.figure(pfx+"time_s", j.elapsed.Seconds())
		s.figure(pfx+"invocations", float64(j.invocations))
		s.figure(pfx+"billed_s", j.billed.Seconds())
		s.figure(pfx+"provider_s", provider.Seconds())
	}
	s.figure("minimum_s", minimum.Seconds())
	s.Notes = append(s.Notes,
		fmt.Sprintf("minimum = as many calls per window as both limits allow (%d), windows starting with the first request, plus one answer", min(cfg.RPM, cfg.TPM/perCall)),
		"billed = the analyze invocations' summed handler time (against moto on this machine); provider time = admitted calls x latency",
		"today's failures are made visible at once by the bench's poller, which flatters it: on AWS they wait out the queue's 900 s visibility timeout",
		"budget DynamoDB req/call = the fleet gate's UpdateItem/GetItem requests over the calls it admitted (deferral bookings included)")
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}

// runLimitedJob runs one job of the scenario through the cloud path.
func (cs *cloudStack) runLimitedJob(ctx context.Context, cfg CloudLimitedConfig, fleet bool, seed uint64) (limitedJob, error) {
	var j limitedJob
	var fmu sync.Mutex
	failed := map[string]int{}
	type try struct {
		at     time.Time
		failed bool
	}
	var tries []try // the requests of the exercise that fails transiently
	marker := fmt.Sprintf("Exercise %d:", cfg.FailPosition+1)
	const apiKey = "fake-key-0123456789"
	fake := fakeopenai.New(fakeopenai.Config{Limit: cfg.RPM, TokenLimit: cfg.TPM, Window: cfg.Window, Latency: cfg.Latency, APIKey: apiKey,
		Respond: func(_ int, r fakeopenai.Request) fakeopenai.Answer {
			a := fakeopenai.Answer{InputTokens: cfg.InputTokens, OutputTokens: cfg.OutputTokens}
			if strings.Contains(string(r.Body), marker) {
				fmu.Lock()
				failed[marker]++
				n := failed[marker]
				tries = append(tries, try{r.At, n <= cfg.FailCalls})
				fmu.Unlock()
				if n <= cfg.FailCalls {
					a.Status, a.Body, a.InputTokens, a.OutputTokens = 500, `{"error":{"message":"The server had an error","type":"server_error"}}`, 1, 1
				}
			}
			return a
		}})
	defer fake.Close()

	counters := map[string]*AWSCounter{}
	for _, r := range []string{RoleDispatch, RoleAnalyze, RolePoller, RoleUpload} {
		counters[r] = NewAWSCounter()
	}
	up, disp, poll := cs.clients(counters[RoleUpload]), cs.clients(counters[RoleDispatch]), cs.clients(counters[RolePoller])
	cf := Course(cfg.Exercises, seed)
	cf.Course.Code = fmt.Sprintf("L%d", seed)
	for i := range cf.Exercises {
		cf.Exercises[i].Text = fmt.Sprintf("Exercise %d: %s", i+1, cf.Exercises[i].Text)
	}
	data, err := courseJSON(cf)
	if err != nil {
		return j, err
	}
	key := fmt.Sprintf("%s%s/limited.json", mototest.InputPrefix, cf.Course.Code)
	if err := up.bucket.Put(ctx, key, data, "application/json"); err != nil {
		return j, fmt.Errorf("upload: %w", err)
	}
	d := &cloud.Dispatcher{Store: disp.store, Cache: disp.store, Objects: disp.bucket, Queue: sqsq.New(disp.sqs, cs.st.QueueURL), Executions: disp.sfn,
		Bucket: cs.st.BucketName, StateMachineARN: cs.st.StateMachineArn, Provider: "openai", Model: "fake-model"}
	ev, _ := json.Marshal(events.S3Event{Records: []events.S3EventRecord{{EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: mototest.Region,
		EventName: "ObjectCreated:Put", S3: events.S3Entity{Bucket: events.S3Bucket{Name: cs.st.BucketName, Arn: "arn:aws:s3:::" + cs.st.BucketName},
			Object: events.S3Object{Key: key, Size: int64(len(data)), ETag: fmt.Sprintf("etag-l%d", seed)}}}}})
	if _, err := d.Handle(ctx, ev); err != nil {
		return j, fmt.Errorf("dispatch: %w", err)
	}
	exec, jobID, err := cs.findExecution(ctx, cf.Course.Code)
	if err != nil {
		return j, err
	}
	token, err := mototest.FanOutToken(ctx, cs.sfn, exec)
	if err != nil {
		return j, err
	}
	fan, _ := json.Marshal(cloud.FanOutInput{Action: "fanout", JobID: jobID, TaskToken: token})
	if _, err := d.Handle(ctx, fan); err != nil {
		return j, fmt.Errorf("fan-out: %w", err)
	}

	// One handler per poller: each stands for a function instance with its own
	// clients and, with the fleet budget, its own Gate on the shared item.
	var gates []*fleetgate.Gate
	handlers := make([]*cloud.Analyze, cfg.Batch)
	for w := range handlers {
		an := cs.clients(counters[RoleAnalyze])
		client, err := openai.New(openai.Config{Name: "openai", BaseURL: fake.BaseURL(), APIKey: apiKey, Model: "fake-model", Strict: true,
			HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}})
		if err != nil {
			return j, err
		}
		a := &pipeline.Analyzer{Provider: client, Policy: retry.DefaultPolicy(), CallTimeout: 30 * time.Second}
		h := &cloud.Analyze{Store: an.store, Signaler: an.sfn, MaxReceives: mototest.MaxReceiveCount,
			Analyzer: func(context.Context) (*pipeline.Analyzer, error) { return a, nil }}
		if fleet {
			api := mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(counters[RoleAnalyze].Instrument(cs.cfg)), &cs.writes)
			g := fleetgate.New(fleetgate.NewDynamoTable(api, cs.st.TableName), fleetgate.Key("openai", "fake-model", apiKey),
				fleetgate.Config{RPM: cfg.RPM, TPM: cfg.TPM, Per: cfg.Window, MaxConcurrency: cfg.Batch, MaxWait: cfg.MaxWait, Headroom: cfg.Headroom})
			gates = append(gates, g)
			a.Gate = g
			h.Requeue, h.QueueURL, h.MaxWait = an.sqs, cs.st.QueueURL, cfg.MaxWait
		}
		handlers[w] = h
	}
	var mu sync.Mutex
	record := func(d time.Duration) {
		mu.Lock()
		j.invocations++
		j.billed += d
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, cfg.Batch)
	for w := range cfg.Batch {
		wg.Go(func() {
			errs[w] = cs.pollLimited(ctx, poll.sqs, handlers[w], jobID, cfg.Exercises, !fleet, record)
		})
	}
	wg.Wait()
	j.elapsed = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return j, err
	}
	check := dynamo.New(cs.db, cs.st.TableName)
	results, err := check.Results(ctx, jobID)
	if err != nil {
		return j, err
	}
	for _, r := range results {
		if r.Analysis.Status == examina.StatusDegraded {
			j.degraded++
		}
	}
	// The transiently failed exercise: the longest gap from a 500 answer to its next
	// request, wherever that next try came from (a retry, a deferral, a redelivery).
	fmu.Lock()
	for i := 1; i < len(tries); i++ {
		if tries[i-1].failed {
			j.redelivery = max(j.redelivery, tries[i].at.Sub(tries[i-1].at)-cfg.Latency)
		}
	}
	fmu.Unlock()
	fs := fake.Stats()
	j.requests, j.limited, j.admitted = fs.Requests, fs.Limited, fs.Admitted
	for _, g := range gates {
		gs := g.Stats()
		j.budgetRequests += gs.Requests
		j.budgetCalls += gs.Calls
		j.deferrals += gs.Deferred
		j.unbooked += gs.Unbooked
	}
	job := CloudJob{Ops: map[string]map[string]OpStats{}}
	for r, c := range counters {
		job.Ops[r] = c.Ops()
	}
	j.ops = opsSummary(job)
	return j, nil
}

// pollLimited is one poller of the event source mapping: one message per invocation;
// successes deleted; failures made visible at once when resetFailures (today's bench
// poller), else left with the visibility the function gave them. record gets every
// invocation's duration.
func (cs *cloudStack) pollLimited(ctx context.Context, client *sqs.Client, h *cloud.Analyze, jobID string, total int, resetFailures bool,
	record func(time.Duration)) error {
	check := dynamo.New(cs.db, cs.st.TableName)
	lastDone, lastProgress := -1, time.Now()
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &cs.st.QueueURL, MaxNumberOfMessages: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if len(out.Messages) == 0 {
			job, err := check.GetJob(ctx, jobID)
			if err != nil {
				return err
			}
			if job.Done >= total {
				return nil
			}
			if job.Done != lastDone {
				lastDone, lastProgress = job.Done, time.Now()
			} else if time.Since(lastProgress) > 2*time.Minute {
				return fmt.Errorf("job %s stuck at %d of %d results (%s)", jobID, job.Done, total, cs.queueState(ctx))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		m := out.Messages[0]
		id := aws.ToString(m.MessageId)
		rec := events.SQSMessage{MessageId: id, ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs"}
		t0 := time.Now()
		resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
		record(time.Since(t0))
		if err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		switch {
		case len(resp.BatchItemFailures) == 0:
			_, err = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &cs.st.QueueURL, ReceiptHandle: m.ReceiptHandle})
		case resetFailures:
			_, err = client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &cs.st.QueueURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
		if err != nil {
			return fmt.Errorf("settling a message: %w", err)
		}
	}
}
