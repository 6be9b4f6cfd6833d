package mototest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// The wrapper serves wherever the store's client does.
var _ dynamo.API = (*mototest.SerialDynamoDB)(nil)

// scriptedSFN answers the n-th poll with polls[min(n, len-1)]: a history split into
// pages, or a status.
type scriptedSFN struct {
	pages    [][][]sfntypes.HistoryEvent
	statuses []sfntypes.ExecutionStatus
	err      error
	n        int
}

func (s *scriptedSFN) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if s.err != nil {
		return nil, s.err
	}
	poll := s.pages[min(s.n, len(s.pages)-1)]
	page := 0
	if in.NextToken != nil {
		page = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := &sfn.GetExecutionHistoryOutput{Events: poll[page]}
	if page+1 < len(poll) {
		out.NextToken = aws.String(string(rune('0' + page + 1)))
	} else {
		s.n++
	}
	return out, nil
}

func (s *scriptedSFN) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if s.err != nil {
		return nil, s.err
	}
	st := s.statuses[min(s.n, len(s.statuses)-1)]
	s.n++
	return &sfn.DescribeExecutionOutput{Status: st}, nil
}

func scheduled(params string) sfntypes.HistoryEvent {
	return sfntypes.HistoryEvent{Type: sfntypes.HistoryEventTypeTaskScheduled,
		TaskScheduledEventDetails: &sfntypes.TaskScheduledEventDetails{Parameters: aws.String(params)}}
}

var (
	submitted = sfntypes.HistoryEvent{Type: sfntypes.HistoryEventTypeTaskSubmitted}
	started   = sfntypes.HistoryEvent{Type: sfntypes.HistoryEventTypeExecutionStarted}
	fanoutA   = scheduled(`{"FunctionName":"d","Payload":{"action":"fanout","job_id":"j","task_token":"tok-A"}}`)
	fanoutB   = scheduled(`{"FunctionName":"d","Payload":{"action":"fanout","job_id":"j","task_token":"tok-B"}}`)
	merge     = scheduled(`{"FunctionName":"m","Payload":{"job_id":"j"}}`)
)

func TestFanOutToken(t *testing.T) {
	tests := []struct {
		name    string
		polls   [][][]sfntypes.HistoryEvent
		want    string
		wantErr string // "" for none; "ctx" for the context's error
		polled  int    // polls made before the answer
	}{
		{"submitted at once", [][][]sfntypes.HistoryEvent{{{started, fanoutA, submitted}}}, "tok-A", "", 1},
		{"scheduled, then submitted", [][][]sfntypes.HistoryEvent{{{started, fanoutA}}, {{started, fanoutA, submitted}}}, "tok-A", "", 2},
		{"across pages", [][][]sfntypes.HistoryEvent{{{started}, {fanoutA}, {submitted}}}, "tok-A", "", 1},
		{"a retry's token", [][][]sfntypes.HistoryEvent{{{fanoutA, submitted, fanoutB}}, {{fanoutA, submitted, fanoutB, submitted}}}, "tok-B", "", 2},
		{"other tasks ignored", [][][]sfntypes.HistoryEvent{{{merge, submitted}}, {{merge, submitted, fanoutA, submitted}}}, "tok-A", "", 2},
		{"never submitted", [][][]sfntypes.HistoryEvent{{{started, fanoutA}}}, "", "ctx", 0},
		{"bad parameters", [][][]sfntypes.HistoryEvent{{{scheduled(`{`)}}}, "", "task parameters", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.wantErr == "ctx" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			c := &scriptedSFN{pages: tc.polls}
			got, err := mototest.FanOutToken(ctx, c, "arn:exec")
			switch {
			case tc.wantErr == "ctx":
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tc.wantErr)
				}
			case err != nil || got != tc.want || c.n != tc.polled:
				t.Fatalf("FanOutToken = %q, %v after %d polls; want %q after %d", got, err, c.n, tc.want, tc.polled)
			}
		})
	}
	t.Run("client error", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := mototest.FanOutToken(t.Context(), &scriptedSFN{err: boom}, "arn:exec"); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
}

func TestWaitExecution(t *testing.T) {
	run, ok, failed := sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusSucceeded, sfntypes.ExecutionStatusFailed
	tests := []struct {
		name     string
		statuses []sfntypes.ExecutionStatus
		cancel   bool
		want     sfntypes.ExecutionStatus
		polled   int
	}{
		{"already ended", []sfntypes.ExecutionStatus{ok}, false, ok, 1},
		{"runs, then fails", []sfntypes.ExecutionStatus{run, run, failed}, false, failed, 3},
		{"still running when ctx ends", []sfntypes.ExecutionStatus{run}, true, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			c := &scriptedSFN{statuses: tc.statuses}
			got, err := mototest.WaitExecution(ctx, c, "arn:exec")
			if tc.cancel != errors.Is(err, context.Canceled) || (!tc.cancel && err != nil) {
				t.Fatalf("err = %v, want cancelled %v", err, tc.cancel)
			}
			if got != tc.want || c.n != tc.polled {
				t.Fatalf("WaitExecution = %s after %d polls, want %s after %d", got, c.n, tc.want, tc.polled)
			}
		})
	}
	t.Run("client error", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := mototest.WaitExecution(t.Context(), &scriptedSFN{err: boom}, "arn:exec"); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
}

// lockProbe checks, inside every call, that the lock given to the wrapper is held.
type lockProbe struct {
	mu    *sync.Mutex
	calls []string
	freed []string // calls made without the lock held
}

func (p *lockProbe) check(op string) {
	p.calls = append(p.calls, op)
	if p.mu.TryLock() {
		p.mu.Unlock()
		p.freed = append(p.freed, op)
	}
}

func (p *lockProbe) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	p.check("GetItem")
	return &dynamodb.GetItemOutput{}, nil
}
func (p *lockProbe) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	p.check("PutItem")
	return &dynamodb.PutItemOutput{}, nil
}
func (p *lockProbe) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	p.check("UpdateItem")
	return &dynamodb.UpdateItemOutput{}, nil
}
func (p *lockProbe) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.check("Query")
	return &dynamodb.QueryOutput{Count: 7}, nil
}
func (p *lockProbe) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	p.check("Scan")
	return &dynamodb.ScanOutput{}, nil
}
func (p *lockProbe) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	p.check("BatchGetItem")
	return &dynamodb.BatchGetItemOutput{}, nil
}
func (p *lockProbe) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	p.check("BatchWriteItem")
	return &dynamodb.BatchWriteItemOutput{}, nil
}
func (p *lockProbe) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	p.check("TransactWriteItems")
	return nil, errors.New("conditional check failed")
}

func TestSerialDynamoDB(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	probe := &lockProbe{mu: &mu}
	db := mototest.NewSerialDynamoDB(probe, &mu)
	calls := []struct {
		op   string
		call func() error
	}{
		{"GetItem", func() error { _, err := db.GetItem(ctx, &dynamodb.GetItemInput{}); return err }},
		{"PutItem", func() error { _, err := db.PutItem(ctx, &dynamodb.PutItemInput{}); return err }},
		{"UpdateItem", func() error { _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{}); return err }},
		{"Query", func() error {
			out, err := db.Query(ctx, &dynamodb.QueryInput{})
			if err == nil && out.Count != 7 {
				t.Errorf("Query's output was not passed through: %+v", out)
			}
			return err
		}},
		{"Scan", func() error { _, err := db.Scan(ctx, &dynamodb.ScanInput{}); return err }},
		{"BatchGetItem", func() error { _, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{}); return err }},
		{"BatchWriteItem", func() error { _, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{}); return err }},
		{"TransactWriteItems", func() error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{})
			if err == nil {
				return errors.New("the wrapped error was lost")
			}
			return nil
		}},
	}
	for i, c := range calls {
		t.Run(c.op, func(t *testing.T) {
			if err := c.call(); err != nil {
				t.Fatal(err)
			}
			if len(probe.calls) != i+1 || probe.calls[i] != c.op {
				t.Fatalf("wrapped calls = %v, want %s last", probe.calls, c.op)
			}
			if len(probe.freed) != 0 {
				t.Fatalf("called without the lock: %v", probe.freed)
			}
			if !mu.TryLock() {
				t.Fatal("the lock is still held after the call")
			}
			mu.Unlock()
		})
	}
}
