package mototest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// PollInterval is how often FanOutToken and WaitExecution ask moto again.
const PollInterval = 50 * time.Millisecond

// ExecutionHistoryAPI is the part of *sfn.Client FanOutToken uses.
type ExecutionHistoryAPI interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// DescribeExecutionAPI is the part of *sfn.Client WaitExecution uses.
type DescribeExecutionAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// FanOutToken waits until the execution's fan-out task (a TaskScheduled event whose
// Lambda payload has action "fanout" and a task token) has been scheduled and then
// submitted (the dispatch invocation returned, so the task now waits for its token),
// and returns that task token. When the task was scheduled more than once (a
// retry), the latest attempt's token is the one returned. It gives up with an error
// wrapping ctx.Err() when ctx ends first.
func FanOutToken(ctx context.Context, client ExecutionHistoryAPI, executionArn string) (string, error) {
	for {
		token, err := submittedFanOutToken(ctx, client, executionArn)
		if err != nil {
			return "", err
		}
		if token != "" {
			return token, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("mototest: no fan-out task submitted in %s: %w", executionArn, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

// submittedFanOutToken reads the whole history once and returns the latest fan-out
// task's token if a TaskSubmitted event followed it, or "".
func submittedFanOutToken(ctx context.Context, client ExecutionHistoryAPI, executionArn string) (string, error) {
	var token string
	submitted := false
	var next *string
	for {
		hist, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &executionArn, NextToken: next})
		if err != nil {
			return "", fmt.Errorf("mototest: history of %s: %w", executionArn, err)
		}
		for _, e := range hist.Events {
			switch {
			case e.Type == sfntypes.HistoryEventTypeTaskScheduled && e.TaskScheduledEventDetails != nil:
				var p struct {
					Payload struct {
						Action    string `json:"action"`
						TaskToken string `json:"task_token"`
					}
				}
				if err := json.Unmarshal([]byte(aws.ToString(e.TaskScheduledEventDetails.Parameters)), &p); err != nil {
					return "", fmt.Errorf("mototest: task parameters in %s: %w", executionArn, err)
				}
				if p.Payload.Action == "fanout" && p.Payload.TaskToken != "" {
					token, submitted = p.Payload.TaskToken, false
				}
			case e.Type == sfntypes.HistoryEventTypeTaskSubmitted && token != "":
				submitted = true
			}
		}
		if hist.NextToken == nil {
			break
		}
		next = hist.NextToken
	}
	if !submitted {
		return "", nil
	}
	return token, nil
}

// WaitExecution waits until the execution is no longer RUNNING and returns its
// status. It gives up with an error wrapping ctx.Err() when ctx ends first.
func WaitExecution(ctx context.Context, client DescribeExecutionAPI, executionArn string) (sfntypes.ExecutionStatus, error) {
	for {
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &executionArn})
		if err != nil {
			return "", fmt.Errorf("mototest: describing %s: %w", executionArn, err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return d.Status, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("mototest: execution %s still running: %w", executionArn, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}
