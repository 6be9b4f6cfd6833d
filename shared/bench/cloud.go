package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/statemachine"
)

// Roles whose AWS requests the cloud scenario counts apart.
const (
	RoleDispatch = "dispatch" // the dispatch function: S3 event, then the fan-out task
	RoleAnalyze  = "analyze"  // the analyze function, one invocation per exercise
	RoleMerge    = "merge"    // the merge function
	RolePoller   = "poller"   // the SQS event source mapping (receives and deletes), billed to the account
	RoleUpload   = "upload"   // the user's upload of the course file
)

// Function memory sizes of template.yaml (Globals 256 MB, MergeFunction 512 MB).
var functionMemoryMB = map[string]float64{RoleDispatch: 256, RoleAnalyze: 256, RoleMerge: 512}

// Prices are list prices in US East (N. Virginia), in dollars per unit.
type Prices struct {
	LambdaGBSecondARM float64 `json:"lambda_gb_second_arm64"`
	LambdaRequest     float64 `json:"lambda_request"`
	SQSRequest        float64 `json:"sqs_request"` // per 64 KB chunk of a request
	DynamoWRU         float64 `json:"dynamodb_write_request_unit"`
	DynamoRRU         float64 `json:"dynamodb_read_request_unit"`
	SFNTransition     float64 `json:"sfn_standard_state_transition"`
	S3Put             float64 `json:"s3_put"` // PUT, COPY, POST, LIST
	S3Get             float64 `json:"s3_get"` // GET, HEAD
	// Sources says where each price was read, and when.
	Sources []string `json:"sources"`
}

// ListPrices returns the prices the report uses, with their sources. Free tiers are
// ignored.
func ListPrices() Prices {
	return Prices{
		LambdaGBSecondARM: 0.0000133334,
		LambdaRequest:     0.20 / 1e6,
		SQSRequest:        0.40 / 1e6,
		DynamoWRU:         0.625 / 1e6,
		DynamoRRU:         0.125 / 1e6,
		SFNTransition:     0.025 / 1000,
		S3Put:             0.005 / 1000,
		S3Get:             0.0004 / 1000,
		Sources: []string{
			"Lambda arm64 $0.0000133334 per GB-s (first 7.5 billion GB-s/month), $0.20 per 1M requests: cloudchipr.com/blog/aws-lambda-pricing (2024 guide, us-east-1), same figures in git.mcrn.ar lambda_local_runner docs/lambdas-md/lambda-13-cost.md",
			"SQS standard $0.40 per 1M requests (first 100 billion/month; each 64 KB chunk is a request): cloudburn.io/blog/amazon-sqs-pricing (us-east-1, March 2026); factualminds.com (June 2026)",
			"DynamoDB on-demand $0.625 per 1M write request units, $0.125 per 1M read request units (after the 1 Nov 2024 cut): airbyte.com/data-engineering-resources/dynamodb-pricing (21 Jul 2025); jusdb.com (19 Aug 2025)",
			"Step Functions Standard $0.025 per 1,000 state transitions (us-east-1): aws.amazon.com/step-functions/pricing/ (read Nov 2026)",
			"S3 Standard $0.005 per 1,000 PUT/COPY/POST/LIST, $0.0004 per 1,000 GET/HEAD: c3x.dev/blog/s3-request-fees-explained (2026)",
		},
	}
}

// CloudJob is what one job of the cloud scenario cost in AWS requests and time.
type CloudJob struct {
	Exercises int `json:"exercises"`
	// Ops are the counts by role, then by "Service.Operation".
	Ops map[string]map[string]OpStats `json:"ops"`
	// Invocations and HandlerTime are the Lambda invocations and their summed handler
	// time (against moto), by function.
	Invocations map[string]int           `json:"invocations"`
	HandlerTime map[string]time.Duration `json:"handler_time_ns"`
	// Transitions counts the execution's state entries (what Standard workflows bill).
	Transitions int           `json:"state_transitions"`
	States      []string      `json:"states"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Degraded    int           `json:"degraded"`
}

// Requests returns the requests made by roles (all roles when none are given).
func (j CloudJob) Requests(roles ...string) int {
	n := 0
	for role, ops := range j.Ops {
		if len(roles) > 0 && !slices.Contains(roles, role) {
			continue
		}
		for _, s := range ops {
			n += s.Requests
		}
	}
	return n
}

// ServiceRequests returns the requests of roles by service.
func (j CloudJob) ServiceRequests(roles ...string) map[string]int {
	out := map[string]int{}
	for role, ops := range j.Ops {
		if len(roles) > 0 && !slices.Contains(roles, role) {
			continue
		}
		for k, s := range ops {
			out[serviceOf(k)] += s.Requests
		}
	}
	return out
}

// Cost is a job's price by item, in dollars.
type Cost struct {
	LambdaRequests float64 `json:"lambda_requests"`
	LambdaCompute  float64 `json:"lambda_compute"`
	SQS            float64 `json:"sqs"`
	DynamoDB       float64 `json:"dynamodb"`
	S3             float64 `json:"s3"`
	StepFunctions  float64 `json:"step_functions"`
}

// Total is the sum of every item.
func (c Cost) Total() float64 {
	return c.LambdaRequests + c.LambdaCompute + c.SQS + c.DynamoDB + c.S3 + c.StepFunctions
}

// Price prices the job at p. llmWait is added to every analyze invocation's handler
// time: the function waits for the provider and is billed for it (the LLM's own price
// is excluded).
func (j CloudJob) Price(p Prices, llmWait time.Duration) Cost {
	var c Cost
	for fn, n := range j.Invocations {
		c.LambdaRequests += float64(n) * p.LambdaRequest
		d := j.HandlerTime[fn]
		if fn == RoleAnalyze {
			d += time.Duration(n) * llmWait
		}
		c.LambdaCompute += functionMemoryMB[fn] / 1024 * d.Seconds() * p.LambdaGBSecondARM
	}
	for _, ops := range j.Ops {
		for k, s := range ops {
			svc, op := serviceOf(k), strings.TrimPrefix(k, serviceOf(k)+".")
			switch svc {
			case "SQS":
				c.SQS += float64(s.Units) * p.SQSRequest
			case "DynamoDB":
				switch op {
				case "GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems":
					c.DynamoDB += float64(s.Units) * p.DynamoRRU
				case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems":
					c.DynamoDB += float64(s.Units) * p.DynamoWRU
				}
			case "S3":
				switch op {
				case "GetObject", "HeadObject":
					c.S3 += float64(s.Requests) * p.S3Get
				case "DeleteObject":
				default:
					c.S3 += float64(s.Requests) * p.S3Put
				}
			}
		}
	}
	c.StepFunctions = float64(j.Transitions) * p.SFNTransition
	return c
}

// CloudConfig configures the cloud scenario.
type CloudConfig struct {
	// Sizes are the job sizes run one after the other (default 27, 100 and 300).
	Sizes []int
	// Batch is the analyze concurrency (default 10).
	Batch int
	// LLMWait is the provider latency assumed in the price of the analyze function's
	// compute (default 600ms, the seed's median); the runs themselves use an instant
	// simulated provider.
	LLMWait time.Duration
	// Command is the command line that reproduces the run, for the report.
	Command string
}

// cloudStack is a provisioned moto stack and the clients the harness uses uncounted.
// startCloudStack starts moto with the stack's resources provisioned and the state
// machine's fan-out timeout set to fanOutTimeout seconds. The caller closes cs.srv.
func startCloudStack(ctx context.Context, fanOutTimeout string) (*cloudStack, error) {
	srv, err := mototest.Launch(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: starting moto (%s): %w", mototest.InstallHint, err)
	}
	st, err := srv.Provision(ctx, mototest.ProvisionOptions{Definition: statemachine.Definition(),
		Substitutions: map[string]string{"FanOutTimeoutSeconds": fanOutTimeout}})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("bench: provisioning moto: %w", err)
	}
	awsCfg := srv.AWSConfig(ctx)
	return &cloudStack{srv: srv, st: st, cfg: awsCfg, sfn: sfn.NewFromConfig(awsCfg), db: dynamodb.NewFromConfig(awsCfg)}, nil
}

type cloudStack struct {
	srv *mototest.Server
	st  *mototest.Stack
	cfg aws.Config
	sfn *sfn.Client
	db  *dynamodb.Client
	// writes serialises DynamoDB requests across every role: moto does not serialise
	// concurrent requests on one item (two ADDs can lose an update, two transactions
	// can both pass a condition), which DynamoDB never allows; and a read of a missing
	// partition (a cache miss) inserts it into moto's table, a defaultdict, so a
	// transaction copying the table at that moment fails with a 500 that the SDK
	// retries, a request DynamoDB would never see.
	writes sync.Mutex
}

// roleClients are the adapters of one role, built from a counted configuration.
type roleClients struct {
	store  *dynamo.Store
	bucket *s3obj.Bucket
	sqs    *sqs.Client
	sfn    *sfn.Client
}

func (cs *cloudStack) clients(c *AWSCounter) roleClients {
	cfg := c.Instrument(cs.cfg)
	return roleClients{
		store:  dynamo.New(mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(cfg), &cs.writes), cs.st.TableName),
		bucket: s3obj.New(s3.NewFromConfig(cfg), cs.st.BucketName),
		sqs:    sqs.NewFromConfig(cfg),
		sfn:    sfn.NewFromConfig(cfg),
	}
}

// Cloud runs the cloud scenario: for each size, a course uploaded to S3 on a private
// moto_server goes through the real cloud code — dispatch on the S3 event, the state
// machine's fan-out task, the analyze function drained from SQS at concurrency Batch
// with one message per invocation, SendTaskSuccess, the merge — with every AWS request
// counted by role, service and operation, and the execution's state transitions read
// from its history. It needs moto (pip install 'moto[server]').
func Cloud(ctx context.Context, cfg CloudConfig) (*Scenario, error) {
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = []int{27, 100, 300}
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 10
	}
	if cfg.LLMWait <= 0 {
		cfg.LLMWait = 600 * time.Millisecond
	}
	if cfg.Command == "" {
		cfg.Command = "examina bench --scenario cloud"
	}
	began := time.Now()
	cs, err := startCloudStack(ctx, "600")
	if err != nil {
		return nil, err
	}
	defer cs.srv.Close()

	prices := ListPrices()
	s := &Scenario{
		Name:    "cloud",
		Title:   fmt.Sprintf("the cloud path on moto (S3 -> dispatch -> Step Functions -> SQS -> analyze x%d -> merge): AWS requests, state transitions, price", cfg.Batch),
		Command: cfg.Command,
		Params: map[string]any{"sizes": cfg.Sizes, "batch": cfg.Batch, "llm_wait_ms": ms(cfg.LLMWait),
			"memory_mb": functionMemoryMB, "prices": prices, "provider": "simulated, instant (LLM excluded)"},
		Columns: []Column{
			{"requests_fn", "fn requests", "%.0f"},
			{"per_ex_fn", "fn req/ex", "%.2f"},
			{"per_ex_all", "all req/ex", "%.2f"},
			{"sqs", "SQS", "%.0f"},
			{"dynamodb", "DynamoDB", "%.0f"},
			{"s3", "S3", "%.0f"},
			{"sfn", "SFN", "%.0f"},
			{"poller", "poller", "%.0f"},
			{"transitions", "transitions", "%.0f"},
			{"usd_per_1000", "$/1000 ex", "%.4f"},
			{"usd_per_1000_no_wait", "$/1000 ex (no LLM wait)", "%.4f"},
		},
	}
	var jobs []CloudJob
	for i, n := range cfg.Sizes {
		j, err := cs.runJob(ctx, n, cfg.Batch, uint64(100+i))
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
		fnRoles := []string{RoleDispatch, RoleAnalyze, RoleMerge}
		svc := j.ServiceRequests(fnRoles...)
		cost := j.Price(prices, cfg.LLMWait)
		bare := j.Price(prices, 0)
		per := 1000 / float64(n)
		s.Rows = append(s.Rows, Row{Name: fmt.Sprintf("job of %d", n), Values: map[string]float64{
			"requests_fn": float64(j.Requests(fnRoles...)), "per_ex_fn": float64(j.Requests(fnRoles...)) / float64(n),
			"per_ex_all": float64(j.Requests(RoleDispatch, RoleAnalyze, RoleMerge, RolePoller)) / float64(n),
			"sqs":        float64(svc["SQS"]), "dynamodb": float64(svc["DynamoDB"]), "s3": float64(svc["S3"]), "sfn": float64(svc["SFN"]),
			"poller": float64(j.Requests(RolePoller)), "transitions": float64(j.Transitions),
			"usd_per_1000": cost.Total() * per, "usd_per_1000_no_wait": bare.Total() * per,
		}})
		pfx := fmt.Sprintf("job_%d_", n)
		s.figure(pfx+"usd_lambda_compute_per_1000", cost.LambdaCompute*per)
		s.figure(pfx+"usd_lambda_requests_per_1000", cost.LambdaRequests*per)
		s.figure(pfx+"usd_sqs_per_1000", cost.SQS*per)
		s.figure(pfx+"usd_dynamodb_per_1000", cost.DynamoDB*per)
		s.figure(pfx+"usd_s3_per_1000", cost.S3*per)
		s.figure(pfx+"usd_sfn_per_1000", cost.StepFunctions*per)
		s.figure(pfx+"analyze_handler_ms_mean", ms(j.HandlerTime[RoleAnalyze])/float64(max(j.Invocations[RoleAnalyze], 1)))
		s.target(fmt.Sprintf("job of %d: degraded", n), "<=", float64(j.Degraded), 0, "")
	}
	last := jobs[len(jobs)-1]
	fnRoles := []string{RoleDispatch, RoleAnalyze, RoleMerge}
	s.target(fmt.Sprintf("AWS requests per exercise by the functions (job of %d)", last.Exercises), "<=",
		float64(last.Requests(fnRoles...))/float64(last.Exercises), 2.5, "")
	constant := true
	for _, j := range jobs {
		constant = constant && j.Transitions == jobs[0].Transitions
	}
	spread := 0.0
	if constant {
		spread = 1
	}
	s.target("state transitions the same for every job size (1 = yes)", ">=", spread, 1, "")
	if len(jobs) > 0 {
		s.Notes = append(s.Notes, "states entered per job: "+strings.Join(jobs[0].States, " -> "))
		s.Notes = append(s.Notes, "operations by role for the last job: "+opsSummary(last))
	}
	s.Notes = append(s.Notes,
		"fn = requests made by the dispatch, analyze and merge functions; poller = the SQS event source mapping's ReceiveMessage/DeleteMessage (billed too, counted apart); the course upload is the user's",
		fmt.Sprintf("$/1000 ex prices Lambda (arm64, template memory), SQS, DynamoDB on-demand, S3 and Step Functions Standard, with %v of provider wait per analyze invocation; LLM tokens are excluded; free tiers ignored", cfg.LLMWait),
		"DynamoDB units are estimated from HTTP body sizes (JSON framing included), so they are upper bounds; Lambda handler times are measured against moto on this machine")
	s.Notes = append(s.Notes, prices.Sources...)
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}

// opsSummary lists a job's operations by role, e.g. "analyze: DynamoDB.UpdateItem 300, ...".
func opsSummary(j CloudJob) string {
	var parts []string
	for _, role := range slices.Sorted(maps.Keys(j.Ops)) {
		ops := j.Ops[role]
		var o []string
		for _, k := range slices.Sorted(maps.Keys(ops)) {
			if e := ops[k].Errors; e > 0 {
				var codes []string
				for _, c := range slices.Sorted(maps.Keys(ops[k].ErrorCodes)) {
					codes = append(codes, fmt.Sprintf("%s %d", c, ops[k].ErrorCodes[c]))
				}
				o = append(o, fmt.Sprintf("%s %d (%d failed: %s)", k, ops[k].Requests, e, strings.Join(codes, ", ")))
			} else {
				o = append(o, fmt.Sprintf("%s %d", k, ops[k].Requests))
			}
		}
		parts = append(parts, role+": "+strings.Join(o, ", "))
	}
	return strings.Join(parts, "; ")
}

// courseJSON renders cf as a course file.
func courseJSON(cf examina.CourseFile) ([]byte, error) {
	type ex struct {
		ID     string `json:"id"`
		Number string `json:"number"`
		Text   string `json:"text"`
		Page   int    `json:"page,omitempty"`
		Source string `json:"source,omitempty"`
	}
	doc := struct {
		Course    examina.Course `json:"course"`
		Exercises []ex           `json:"exercises"`
	}{Course: cf.Course}
	for _, e := range cf.Exercises {
		doc.Exercises = append(doc.Exercises, ex{e.ID, e.Number, e.Text, e.Page, e.Source})
	}
	return json.Marshal(doc)
}

// runJob runs one course of n exercises through the cloud path.
func (cs *cloudStack) runJob(ctx context.Context, n, batch int, seed uint64) (CloudJob, error) {
	counters := map[string]*AWSCounter{}
	for _, r := range []string{RoleDispatch, RoleAnalyze, RoleMerge, RolePoller, RoleUpload} {
		counters[r] = NewAWSCounter()
	}
	up, disp, an, mg, poll := cs.clients(counters[RoleUpload]), cs.clients(counters[RoleDispatch]),
		cs.clients(counters[RoleAnalyze]), cs.clients(counters[RoleMerge]), cs.clients(counters[RolePoller])
	job := CloudJob{Exercises: n, Invocations: map[string]int{}, HandlerTime: map[string]time.Duration{}}
	var mu sync.Mutex
	timed := func(fn string, f func() error) error {
		t0 := time.Now()
		err := f()
		mu.Lock()
		job.Invocations[fn]++
		job.HandlerTime[fn] += time.Since(t0)
		mu.Unlock()
		return err
	}

	cf := Course(n, seed)
	cf.Course.Code = fmt.Sprintf("B%d", n)
	data, err := courseJSON(cf)
	if err != nil {
		return job, err
	}
	sim := simulated.New(simulated.Config{Seed: int64(seed)})
	key := fmt.Sprintf("%s%s/bench-%d.json", mototest.InputPrefix, cf.Course.Code, n)
	start := time.Now()
	if err := up.bucket.Put(ctx, key, data, "application/json"); err != nil {
		return job, fmt.Errorf("bench: upload: %w", err)
	}
	q := sqsq.New(disp.sqs, cs.st.QueueURL)
	d := &cloud.Dispatcher{Store: disp.store, Cache: disp.store, Objects: disp.bucket, Queue: q, Executions: disp.sfn,
		Bucket: cs.st.BucketName, StateMachineARN: cs.st.StateMachineArn, Provider: sim.Name(), Model: sim.Model()}

	// 1. The S3 event: dispatch records the job and starts the execution.
	ev, _ := json.Marshal(events.S3Event{Records: []events.S3EventRecord{{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: mototest.Region, EventName: "ObjectCreated:Put",
		S3: events.S3Entity{Bucket: events.S3Bucket{Name: cs.st.BucketName, Arn: "arn:aws:s3:::" + cs.st.BucketName},
			Object: events.S3Object{Key: key, Size: int64(len(data)), ETag: fmt.Sprintf("etag-%d", n)}},
	}}})
	if err := timed(RoleDispatch, func() error { _, err := d.Handle(ctx, ev); return err }); err != nil {
		return job, fmt.Errorf("bench: dispatch: %w", err)
	}
	exec, jobID, err := cs.findExecution(ctx, cf.Course.Code)
	if err != nil {
		return job, err
	}
	// 2. The fan-out task, invoked by the state machine with its task token.
	token, err := mototest.FanOutToken(ctx, cs.sfn, exec)
	if err != nil {
		return job, fmt.Errorf("bench: %w", err)
	}
	fan, _ := json.Marshal(cloud.FanOutInput{Action: "fanout", JobID: jobID, TaskToken: token})
	if err := timed(RoleDispatch, func() error { _, err := d.Handle(ctx, fan); return err }); err != nil {
		return job, fmt.Errorf("bench: fan-out: %w", err)
	}
	// 3. The event source mapping: batch pollers, one message per invocation.
	h := &cloud.Analyze{Store: an.store, Signaler: an.sfn, MaxReceives: mototest.MaxReceiveCount,
		Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
			return &pipeline.Analyzer{Provider: sim, Policy: retry.DefaultPolicy()}, nil
		}}
	var wg sync.WaitGroup
	errs := make([]error, batch)
	for w := range batch {
		wg.Go(func() { errs[w] = cs.poll(ctx, poll.sqs, h, timed, jobID, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return job, err
	}
	// 4. The execution moves on to Merge (a stub on moto); the merge function runs.
	status, err := mototest.WaitExecution(ctx, cs.sfn, exec)
	if err != nil {
		return job, fmt.Errorf("bench: %w", err)
	}
	if status != sfntypes.ExecutionStatusSucceeded {
		return job, fmt.Errorf("bench: execution %s ended %s", exec, status)
	}
	m := &cloud.Merger{Store: mg.store, Objects: mg.bucket}
	if err := timed(RoleMerge, func() error { _, err := m.Merge(ctx, cloud.MergeInput{JobID: jobID}); return err }); err != nil {
		return job, fmt.Errorf("bench: merge: %w", err)
	}
	job.Elapsed = time.Since(start)
	// Checked through uncounted clients: the job completed with every result.
	check := dynamo.New(cs.db, cs.st.TableName)
	rec, err := check.GetJob(ctx, jobID)
	if err != nil {
		return job, fmt.Errorf("bench: reading the job: %w", err)
	}
	results, err := check.Results(ctx, jobID)
	if err != nil {
		return job, fmt.Errorf("bench: reading the results: %w", err)
	}
	if rec.Status != examina.JobCompleted || len(results) != n {
		return job, fmt.Errorf("bench: job %s is %s with %d results for %d exercises", jobID, rec.Status, len(results), n)
	}
	for _, r := range results {
		if r.Analysis.Status == examina.StatusDegraded {
			job.Degraded++
		}
	}
	if job.States, err = cs.statesEntered(ctx, exec); err != nil {
		return job, err
	}
	job.Transitions = len(job.States)
	job.Ops = map[string]map[string]OpStats{}
	for r, c := range counters {
		job.Ops[r] = c.Ops()
	}
	return job, nil
}

// poll is one poller of the event source mapping: it receives one message at a time,
// invokes the analyze handler, deletes the successes and makes failures visible again,
// until the job has all its results. It gives up when the job makes no progress for
// stall.
func (cs *cloudStack) poll(ctx context.Context, client *sqs.Client, h *cloud.Analyze, timed func(string, func() error) error, jobID string, total int) error {
	const stall = time.Minute
	check := dynamo.New(cs.db, cs.st.TableName)
	lastDone, lastProgress := -1, time.Now()
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &cs.st.QueueURL, MaxNumberOfMessages: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			return fmt.Errorf("bench: receive: %w", err)
		}
		if len(out.Messages) == 0 {
			// Empty receives while the other pollers finish the job are counted too;
			// in production the pollers long-poll instead.
			job, err := check.GetJob(ctx, jobID)
			if err != nil {
				return fmt.Errorf("bench: reading the job: %w", err)
			}
			if job.Done >= total {
				return nil
			}
			if job.Done != lastDone {
				lastDone, lastProgress = job.Done, time.Now()
			} else if time.Since(lastProgress) > stall {
				return fmt.Errorf("bench: job %s stuck at %d of %d results with an empty queue (%s)", jobID, job.Done, total, cs.queueState(ctx))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		m := out.Messages[0]
		rec := events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs"}
		var resp events.SQSEventResponse
		if err := timed(RoleAnalyze, func() error {
			var err error
			resp, err = h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
			return err
		}); err != nil {
			return fmt.Errorf("bench: analyze: %w", err)
		}
		if len(resp.BatchItemFailures) > 0 {
			_, err = client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &cs.st.QueueURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		} else {
			_, err = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &cs.st.QueueURL, ReceiptHandle: m.ReceiptHandle})
		}
		if err != nil {
			return fmt.Errorf("bench: settling a message: %w", err)
		}
	}
}

// queueState describes the analyze queue and its DLQ, for error messages.
func (cs *cloudStack) queueState(ctx context.Context) string {
	client := sqs.NewFromConfig(cs.cfg)
	var parts []string
	for name, url := range map[string]string{"queue": cs.st.QueueURL, "dlq": cs.st.DLQURL} {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			parts = append(parts, name+": "+err.Error())
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s visible, %s in flight", name,
			out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// findExecution returns the execution of the job of course code and the job's id.
func (cs *cloudStack) findExecution(ctx context.Context, code string) (exec, jobID string, err error) {
	out, err := cs.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &cs.st.StateMachineArn})
	if err != nil {
		return "", "", fmt.Errorf("bench: listing executions: %w", err)
	}
	prefix := strings.ToLower(code) + "-"
	for _, e := range out.Executions {
		if name := aws.ToString(e.Name); strings.HasPrefix(name, prefix) {
			return aws.ToString(e.ExecutionArn), name, nil
		}
	}
	return "", "", fmt.Errorf("bench: no execution for course %s", code)
}

// statesEntered returns the names of the states the execution entered, in order: each
// entry is one state transition as Standard workflows bill them.
func (cs *cloudStack) statesEntered(ctx context.Context, exec string) ([]string, error) {
	var names []string
	var next *string
	for {
		hist, err := cs.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &exec, NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("bench: execution history: %w", err)
		}
		for _, e := range hist.Events {
			if strings.HasSuffix(string(e.Type), "StateEntered") && e.StateEnteredEventDetails != nil {
				names = append(names, aws.ToString(e.StateEnteredEventDetails.Name))
			}
		}
		if hist.NextToken == nil {
			return names, nil
		}
		next = hist.NextToken
	}
}
