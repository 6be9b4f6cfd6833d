package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/statemachine"
)

func TestDefinitionIsValidJSONWithDeclaredSubstitutions(t *testing.T) {
	def := statemachine.Definition()
	if !json.Valid(def) {
		t.Fatal("analysis.asl.json is not valid JSON before substitution")
	}
	var used []string
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`).FindAllSubmatch(def, -1) {
		if name := string(m[1]); !slices.Contains(used, name) {
			used = append(used, name)
		}
	}
	slices.Sort(used)
	want := statemachine.Substitutions()
	slices.Sort(want)
	if !slices.Equal(used, want) {
		t.Errorf("substitutions used = %v, declared = %v", used, want)
	}
}

// TestFailurePathsReadNoOptionalField: a Catch's $.error may lack Cause (States.ALL
// does not catch the States.Runtime a missing path raises), so no state reads
// $.error or $.timeout, and MarkFailed stores a reason every failure path sets.
func TestFailurePathsReadNoOptionalField(t *testing.T) {
	var def struct {
		States map[string]json.RawMessage
	}
	if err := json.Unmarshal(statemachine.Definition(), &def); err != nil {
		t.Fatal(err)
	}
	for name, st := range def.States {
		for _, p := range []string{`"$.error`, `"$.timeout`, `"$.mark_error`} {
			for _, m := range regexp.MustCompile(`"[A-Za-z]+\.\$"\s*:\s*`+regexp.QuoteMeta(p)).FindAll(st, -1) {
				t.Errorf("state %s reads %s", name, m)
			}
		}
	}
	var mark struct {
		Parameters struct {
			ExpressionAttributeValues map[string]map[string]string
		}
	}
	if err := json.Unmarshal(def.States["MarkFailed"], &mark); err != nil {
		t.Fatal(err)
	}
	if got := mark.Parameters.ExpressionAttributeValues[":reason"]["S.$"]; got != "$.failure.reason" {
		t.Errorf("MarkFailed stores %q, want $.failure.reason", got)
	}
	// Every path into MarkFailed sets $.failure first.
	for name, st := range def.States {
		var s struct {
			Next, ResultPath string
			Catch            []struct{ Next string }
		}
		_ = json.Unmarshal(st, &s)
		for _, c := range s.Catch {
			if c.Next == "MarkFailed" {
				t.Errorf("state %s catches straight into MarkFailed, without a stable reason", name)
			}
		}
		if s.Next == "MarkFailed" && s.ResultPath != "$.failure" {
			t.Errorf("state %s goes to MarkFailed without setting $.failure", name)
		}
	}
}

// harness drives the real definition in one moto server. The Lambda stub's
// queued responses are shared by every function, so scenarios run one at a time.
type harness struct {
	t   *testing.T
	ctx context.Context
	s   *mototest.Server
	st  *mototest.Stack
	sfn *sfn.Client
	db  *dynamodb.Client
}

func newHarness(t *testing.T) *harness {
	s := mototest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	t.Cleanup(cancel)
	st, err := s.Provision(ctx, mototest.ProvisionOptions{Definition: statemachine.Definition()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.AWSConfig(ctx)
	return &harness{t: t, ctx: ctx, s: s, st: st, sfn: sfn.NewFromConfig(cfg), db: dynamodb.NewFromConfig(cfg)}
}

// machine creates a state machine from the real definition with the given
// fan-out timeout and returns its ARN.
func (h *harness) machine(name string, fanOutTimeout int) string {
	return h.machineWith(name, strconv.Itoa(fanOutTimeout), "1", "120")
}

// machineWith creates a state machine with the substitutions as given.
func (h *harness) machineWith(name, fanOutTimeout, checkInterval, maxChecks string) string {
	h.t.Helper()
	arn, err := h.s.CreateStateMachine(h.ctx, name, statemachine.Definition(), map[string]string{
		"Partition":                "aws",
		"DispatchFunctionArn":      h.st.DispatchFunctionArn,
		"MergeFunctionArn":         h.st.MergeFunctionArn,
		"TableName":                h.st.TableName,
		"FanOutTimeoutSeconds":     fanOutTimeout,
		"CheckIntervalSeconds":     checkInterval,
		"MaxChecksWithoutProgress": maxChecks,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return arn
}

func (h *harness) putJob(job string, done, total int) {
	h.t.Helper()
	_, err := h.db.PutItem(h.ctx, &dynamodb.PutItemInput{
		TableName: &h.st.TableName,
		Item: map[string]dbtypes.AttributeValue{
			"PK":     &dbtypes.AttributeValueMemberS{Value: "JOB#" + job},
			"SK":     &dbtypes.AttributeValueMemberS{Value: "META"},
			"job_id": &dbtypes.AttributeValueMemberS{Value: job},
			"status": &dbtypes.AttributeValueMemberS{Value: "running"},
			"done":   &dbtypes.AttributeValueMemberN{Value: strconv.Itoa(done)},
			"total":  &dbtypes.AttributeValueMemberN{Value: strconv.Itoa(total)},
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) job(job string) map[string]dbtypes.AttributeValue {
	h.t.Helper()
	out, err := h.db.GetItem(h.ctx, &dynamodb.GetItemInput{
		TableName: &h.st.TableName, ConsistentRead: aws.Bool(true),
		Key: map[string]dbtypes.AttributeValue{
			"PK": &dbtypes.AttributeValueMemberS{Value: "JOB#" + job},
			"SK": &dbtypes.AttributeValueMemberS{Value: "META"},
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out.Item
}

func (h *harness) start(machine, job string) string {
	return h.startWith(machine, job, "")
}

// startWith starts an execution whose input has the extra members (JSON, "" none).
func (h *harness) startWith(machine, job, extra string) string {
	h.t.Helper()
	input := `{"job_id":"` + job + `","course":"ADE"` + extra + `}`
	if extra != "" {
		input = `{"job_id":"` + job + `","course":"ADE",` + extra + `}`
	}
	out, err := h.sfn.StartExecution(h.ctx, &sfn.StartExecutionInput{
		StateMachineArn: &machine,
		Name:            aws.String(job),
		Input:           aws.String(input),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return aws.ToString(out.ExecutionArn)
}

func (h *harness) history(exec string) []sfntypes.HistoryEvent {
	h.t.Helper()
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(h.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: &exec})
	for p.HasMorePages() {
		page, err := p.NextPage(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		events = append(events, page.Events...)
	}
	return events
}

// waitFor polls the execution's history until cond holds.
func (h *harness) waitFor(exec, what string, cond func([]sfntypes.HistoryEvent) bool) []sfntypes.HistoryEvent {
	h.t.Helper()
	for {
		events := h.history(exec)
		if cond(events) {
			return events
		}
		select {
		case <-h.ctx.Done():
			h.t.Fatalf("%s: waiting for %s: %v; history: %s", exec, what, h.ctx.Err(), describe(events))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (h *harness) finish(exec string) *sfn.DescribeExecutionOutput {
	h.t.Helper()
	var d *sfn.DescribeExecutionOutput
	h.waitFor(exec, "the end", func([]sfntypes.HistoryEvent) bool {
		var err error
		if d, err = h.sfn.DescribeExecution(h.ctx, &sfn.DescribeExecutionInput{ExecutionArn: &exec}); err != nil {
			h.t.Fatal(err)
		}
		return d.Status != sfntypes.ExecutionStatusRunning
	})
	return d
}

// fanOutToken waits until dispatch's fan-out invocation has returned and
// returns the task token its payload carried.
func (h *harness) fanOutToken(exec, job string) string {
	h.t.Helper()
	events := h.waitFor(exec, "the fan-out task", func(ev []sfntypes.HistoryEvent) bool {
		return count(ev, sfntypes.HistoryEventTypeTaskSubmitted) >= 1
	})
	for _, e := range events {
		if e.Type != sfntypes.HistoryEventTypeTaskScheduled {
			continue
		}
		var params struct {
			FunctionName string
			Payload      struct {
				Action    string `json:"action"`
				JobID     string `json:"job_id"`
				TaskToken string `json:"task_token"`
			}
		}
		if err := json.Unmarshal([]byte(aws.ToString(e.TaskScheduledEventDetails.Parameters)), &params); err != nil {
			h.t.Fatal(err)
		}
		if params.FunctionName != h.st.DispatchFunctionArn || params.Payload.Action != "fanout" || params.Payload.JobID != job || params.Payload.TaskToken == "" {
			h.t.Fatalf("fan-out parameters = %+v", params)
		}
		return params.Payload.TaskToken
	}
	h.t.Fatal("no TaskScheduled event")
	return ""
}

func (h *harness) queue(payloads ...string) {
	h.t.Helper()
	if err := h.s.QueueLambdaResponse(h.ctx, payloads...); err != nil {
		h.t.Fatal(err)
	}
}

func count(events []sfntypes.HistoryEvent, typ sfntypes.HistoryEventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func entered(events []sfntypes.HistoryEvent, state string) int {
	n := 0
	for _, e := range events {
		if e.StateEnteredEventDetails != nil && aws.ToString(e.StateEnteredEventDetails.Name) == state {
			n++
		}
	}
	return n
}

func describe(events []sfntypes.HistoryEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(string(e.Type))
		if e.StateEnteredEventDetails != nil {
			b.WriteString("(" + aws.ToString(e.StateEnteredEventDetails.Name) + ")")
		}
		b.WriteString(" ")
	}
	return b.String()
}

const mergeOutput = `{"job_id":"%s","status":"completed","result_key":"results/ADE/%s.json","merged_groups":3,"topics":2,"core_loops":2}`

func mergeOK(job string) string {
	return strings.ReplaceAll(mergeOutput, "%s", job)
}

func TestAnalysisStateMachine(t *testing.T) {
	h := newHarness(t)
	patient := h.machine("patient", 60)
	hasty := h.machine("hasty", 1)

	t.Run("happy path: task token completes the fan-out, merge succeeds", func(t *testing.T) {
		h.t = t
		job := "ade-000000000001"
		h.putJob(job, 0, 2)
		exec := h.start(patient, job)
		token := h.fanOutToken(exec, job)
		h.queue(mergeOK(job))
		if _, err := h.sfn.SendTaskSuccess(h.ctx, &sfn.SendTaskSuccessInput{
			TaskToken: &token, Output: aws.String(`{"job_id":"` + job + `","done":2,"total":2}`),
		}); err != nil {
			t.Fatal(err)
		}
		d := h.finish(exec)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("status = %s; history: %s", d.Status, describe(h.history(exec)))
		}
		if got := aws.ToString(d.Output); !jsonEqual(t, got, mergeOK(job)) {
			t.Errorf("output = %s, want the merge payload %s", got, mergeOK(job))
		}
		if ev := h.history(exec); entered(ev, "CheckJob") != 0 {
			t.Errorf("the check loop ran on the happy path: %s", describe(ev))
		}
	})

	t.Run("fan-out times out, the check finds the job done and merges", func(t *testing.T) {
		h.t = t
		job := "ade-000000000002"
		h.putJob(job, 2, 2)
		exec := h.start(hasty, job)
		h.fanOutToken(exec, job)
		h.queue(mergeOK(job))
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("status = %s; history: %s", d.Status, describe(ev))
		}
		if entered(ev, "CheckJob") != 1 || entered(ev, "WaitForResults") != 0 || entered(ev, "Merge") != 1 {
			t.Errorf("want one check then merge; history: %s", describe(ev))
		}
	})

	t.Run("fan-out times out, the check loop waits until the job is done", func(t *testing.T) {
		h.t = t
		job := "ade-000000000003"
		h.putJob(job, 1, 2)
		exec := h.start(hasty, job)
		h.fanOutToken(exec, job)
		h.waitFor(exec, "two waits", func(ev []sfntypes.HistoryEvent) bool { return entered(ev, "WaitForResults") >= 2 })
		h.queue(mergeOK(job))
		h.putJob(job, 2, 2)
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("status = %s; history: %s", d.Status, describe(ev))
		}
		if entered(ev, "CheckJob") < 3 || entered(ev, "Merge") != 1 {
			t.Errorf("want at least three checks then merge; history: %s", describe(ev))
		}
		if !strings.Contains(string(mustJSON(t, d.Output)), `"status":"completed"`) {
			t.Errorf("output = %s", aws.ToString(d.Output))
		}
	})

	t.Run("merge fails: job marked failed with a stable reason", func(t *testing.T) {
		h.t = t
		job := "ade-000000000004"
		h.putJob(job, 2, 2)
		exec := h.start(patient, job)
		token := h.fanOutToken(exec, job)
		h.queue(`{"errorType":"InvalidInputError","errorMessage":"job has no results"}`)
		if _, err := h.sfn.SendTaskSuccess(h.ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String(`{"done":2,"total":2}`)}); err != nil {
			t.Fatal(err)
		}
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusFailed || entered(ev, "MarkFailed") != 1 {
			t.Fatalf("status = %s; history: %s", d.Status, describe(ev))
		}
		if entered(ev, "Merge") != 1 {
			t.Errorf("a non-retryable merge error was retried: %s", describe(ev))
		}
		item := h.job(job)
		if s := attrS(item, "status"); s != "failed" {
			t.Errorf("job status = %q, want failed", s)
		}
		if r := attrS(item, "reason"); r != "merge failed" {
			t.Errorf("job reason = %q, want the stable \"merge failed\" (the cause stays in the history)", r)
		}
		if attrS(item, "updated_at") == "" {
			t.Error("updated_at not set")
		}
	})

	t.Run("merge retries MergeRetryableError", func(t *testing.T) {
		h.t = t
		job := "ade-000000000005"
		h.putJob(job, 2, 2)
		exec := h.start(patient, job)
		token := h.fanOutToken(exec, job)
		h.queue(`{"errorType":"MergeRetryableError","errorMessage":"throttled"}`, mergeOK(job))
		if _, err := h.sfn.SendTaskSuccess(h.ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String(`{}`)}); err != nil {
			t.Fatal(err)
		}
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("status = %s; history: %s", d.Status, describe(ev))
		}
		if n := count(ev, sfntypes.HistoryEventTypeTaskFailed); n != 1 {
			t.Errorf("failed merge attempts = %d, want 1; history: %s", n, describe(ev))
		}
	})

	t.Run("dispatch fan-out error: job marked failed", func(t *testing.T) {
		h.t = t
		job := "ade-000000000006"
		h.putJob(job, 0, 2)
		h.queue(`{"errorType":"InvalidInputError","errorMessage":"no exercises stored"}`)
		exec := h.start(patient, job)
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusFailed || entered(ev, "Merge") != 0 {
			t.Fatalf("status = %s; history: %s", d.Status, describe(ev))
		}
		if r := attrS(h.job(job), "reason"); r != "fan-out failed" {
			t.Errorf("job reason = %q, want the stable \"fan-out failed\"", r)
		}
		if n := count(ev, sfntypes.HistoryEventTypeTaskFailed); n != 1 {
			t.Errorf("InvalidInputError was retried: %d failed attempts; history: %s", n, describe(ev))
		}
	})

	// The function itself failing (timeout, out of memory: Lambda.Unknown), the
	// invoke timing out, or any other task failure: FanOut is idempotent, so retried.
	for i, errType := range []string{"Lambda.Unknown", "Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Runtime.ExitError"} {
		t.Run("fan-out retried on "+errType, func(t *testing.T) {
			h.t = t
			job := fmt.Sprintf("ade-0000000001%02d", i)
			h.putJob(job, 0, 2)
			h.queue(`{"errorType":"`+errType+`","errorMessage":"Task timed out after 60.00 seconds"}`, `null`)
			exec := h.start(patient, job)
			ev := h.waitFor(exec, "a second fan-out attempt", func(ev []sfntypes.HistoryEvent) bool {
				return count(ev, sfntypes.HistoryEventTypeTaskSubmitted) >= 1
			})
			if n := count(ev, sfntypes.HistoryEventTypeTaskFailed); n != 1 {
				t.Fatalf("failed fan-out attempts = %d, want 1 then a retry; history: %s", n, describe(ev))
			}
			token := h.fanOutToken(exec, job)
			h.queue(mergeOK(job))
			if _, err := h.sfn.SendTaskSuccess(h.ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String(`{}`)}); err != nil {
				t.Fatal(err)
			}
			if d := h.finish(exec); d.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("status = %s; history: %s", d.Status, describe(h.history(exec)))
			}
		})
	}

	t.Run("a missing job item ends the execution without creating one", func(t *testing.T) {
		h.t = t
		job := "ade-000000000008"
		exec := h.start(hasty, job)
		h.fanOutToken(exec, job)
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusFailed || entered(ev, "JobMissing") != 1 || entered(ev, "MarkFailed") != 1 {
			t.Fatalf("status = %s; history: %s", d.Status, describe(ev))
		}
		if item := h.job(job); item != nil {
			t.Errorf("MarkFailed created a job item %v", item)
		}
	})

	t.Run("non-integer timeouts are rounded, not a runtime error", func(t *testing.T) {
		h.t = t
		job := "ade-000000000009"
		h.putJob(job, 2, 2)
		exec := h.start(h.machineWith("fractional", "1.4", "0.6", "2.5"), job)
		h.fanOutToken(exec, job)
		h.queue(mergeOK(job))
		if d := h.finish(exec); d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("status = %s; history: %s", d.Status, describe(h.history(exec)))
		}
	})

	strict := h.machineWith("strict", "1", "1", "3")
	t.Run("no progress: gives up after MaxChecksWithoutProgress checks", func(t *testing.T) {
		h.t = t
		job := "ade-000000000010"
		h.putJob(job, 1, 4)
		exec := h.start(strict, job)
		h.fanOutToken(exec, job)
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusFailed || entered(ev, "GiveUp") != 1 || entered(ev, "CheckJob") != 4 {
			t.Fatalf("status = %s, want failed after 4 checks; history: %s", d.Status, describe(ev))
		}
		if r := attrS(h.job(job), "reason"); r != "timed out waiting for results" {
			t.Errorf("reason = %q", r)
		}
	})

	t.Run("progress resets the count: a slow job is not given up", func(t *testing.T) {
		h.t = t
		job := "ade-000000000011"
		const total = 8
		h.putJob(job, 0, total)
		exec := h.start(strict, job)
		h.fanOutToken(exec, job)
		// One more result after every check: 8 checks, over twice the limit of 3.
		for done := 1; done < total; done++ {
			h.waitFor(exec, "check "+strconv.Itoa(done), func(ev []sfntypes.HistoryEvent) bool { return entered(ev, "WaitForResults") >= done })
			h.putJob(job, done, total)
		}
		h.waitFor(exec, "the last wait", func(ev []sfntypes.HistoryEvent) bool { return entered(ev, "WaitForResults") >= total })
		h.queue(mergeOK(job))
		h.putJob(job, total, total)
		d := h.finish(exec)
		ev := h.history(exec)
		if d.Status != sfntypes.ExecutionStatusSucceeded || entered(ev, "GiveUp") != 0 || entered(ev, "CheckJob") <= total {
			t.Fatalf("status = %s, want merged after more than %d checks; history: %s", d.Status, total, describe(ev))
		}
	})

	t.Run("the fan-out wait grows with the job's size", func(t *testing.T) {
		for i, tc := range []struct {
			extra string
			want  int64
		}{{`"fanout_extra_seconds":599`, 600}, {`"fanout_extra_seconds":"x"`, 1}, {`"fanout_extra_seconds":-5`, 1}, {"", 1}} {
			h.t = t
			job := fmt.Sprintf("ade-0000000002%02d", i)
			h.putJob(job, 0, 2)
			exec := h.startWith(hasty, job, tc.extra)
			ev := h.waitFor(exec, "the fan-out task", func(ev []sfntypes.HistoryEvent) bool {
				return count(ev, sfntypes.HistoryEventTypeTaskScheduled) >= 1
			})
			for _, e := range ev {
				if e.Type == sfntypes.HistoryEventTypeTaskScheduled {
					if got := aws.ToInt64(e.TaskScheduledEventDetails.TimeoutInSeconds); got != tc.want {
						t.Errorf("input %s: fan-out timeout %d s, want %d", tc.extra, got, tc.want)
					}
				}
			}
			if _, err := h.sfn.StopExecution(h.ctx, &sfn.StopExecutionInput{ExecutionArn: &exec}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func attrS(item map[string]dbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*dbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func mustJSON(t *testing.T, s *string) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(aws.ToString(s)), &v); err != nil {
		t.Fatalf("output %q: %v", aws.ToString(s), err)
	}
	b, _ := json.Marshal(v)
	return b
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	return string(mustJSON(t, &a)) == string(mustJSON(t, &b))
}
