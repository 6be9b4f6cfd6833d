package mototest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

func TestLaunchWithoutMoto(t *testing.T) {
	tests := []struct {
		name, path, python string
	}{
		{"no moto_server on PATH", t.TempDir(), ""},
		{"python override missing", t.TempDir(), "/nonexistent/python3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			t.Setenv("EXAMINA_MOTO_PYTHON", tc.python)
			s, err := mototest.Launch(context.Background())
			if !errors.Is(err, mototest.ErrNotInstalled) {
				if s != nil {
					_ = s.Close()
				}
				t.Fatalf("Launch() error = %v, want ErrNotInstalled", err)
			}
			if !strings.Contains(err.Error(), "pip install 'moto[server]'") {
				t.Errorf("error %q does not say how to install moto", err)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name, in, want string
		subs           map[string]string
		wantErr        bool
	}{
		{"fills every occurrence", `{"a":"${X}","b":${N},"c":"${X}"}`, `{"a":"v","b":3,"c":"v"}`, map[string]string{"X": "v", "N": "3"}, false},
		{"leaves JSONPath alone", `{"k.$":"$.job_id"}`, `{"k.$":"$.job_id"}`, nil, false},
		{"missing value", `{"a":"${Missing}"}`, "", map[string]string{"X": "v"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mototest.Substitute([]byte(tc.in), tc.subs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Substitute() error = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && string(got) != tc.want {
				t.Errorf("Substitute() = %s, want %s", got, tc.want)
			}
		})
	}
}

// taskDefinition runs a Lambda task then a DynamoDB task: enough to trip moto
// 5.2.1's pickling bug on the next StartExecution without the launcher's patch.
const taskDefinition = `{
  "StartAt": "Call",
  "States": {
    "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "${Fn}", "Payload.$": "$"},
             "OutputPath": "$.Payload", "Next": "Read",
             "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Caught"}]},
    "Read": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
             "Parameters": {"TableName": "${Table}", "Key": {"PK": {"S": "K"}, "SK": {"S": "META"}}},
             "ResultPath": "$.read", "End": true},
    "Caught": {"Type": "Fail", "Error": "Caught"}
  }
}`

func TestServer(t *testing.T) {
	s := mototest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := s.AWSConfig(ctx)

	st, err := s.Provision(ctx, mototest.ProvisionOptions{Prefix: "h"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("table", func(t *testing.T) {
		db := dynamodb.NewFromConfig(cfg)
		d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &st.TableName})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range d.Table.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
		}
		if got := strings.Join(keys, ","); got != "PK/HASH,SK/RANGE" {
			t.Errorf("key schema = %s", got)
		}
		if d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != "PAY_PER_REQUEST" {
			t.Errorf("billing mode = %+v", d.Table.BillingModeSummary)
		}
		ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &st.TableName})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(ttl.TimeToLiveDescription.AttributeName) != mototest.TTLAttribute {
			t.Errorf("TTL attribute = %v", aws.ToString(ttl.TimeToLiveDescription.AttributeName))
		}
	})

	t.Run("queues", func(t *testing.T) {
		c := sqs.NewFromConfig(cfg)
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &st.QueueURL, AttributeNames: []sqstypesName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		var redrive struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(a.Attributes["RedrivePolicy"]), &redrive); err != nil {
			t.Fatalf("RedrivePolicy %q: %v", a.Attributes["RedrivePolicy"], err)
		}
		if redrive.DeadLetterTargetArn != st.DLQARN {
			t.Errorf("DLQ = %s, want %s", redrive.DeadLetterTargetArn, st.DLQARN)
		}
		if a.Attributes["VisibilityTimeout"] != "900" || a.Attributes["SqsManagedSseEnabled"] != "true" {
			t.Errorf("attributes = %v", a.Attributes)
		}
	})

	t.Run("bucket", func(t *testing.T) {
		c := s3.NewFromConfig(cfg)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &st.BucketName, Key: aws.String("input/ADE/x.json"), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
		enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &st.BucketName})
		if err != nil || len(enc.ServerSideEncryptionConfiguration.Rules) != 1 {
			t.Fatalf("encryption = %+v, %v", enc, err)
		}
	})

	t.Run("lambda stub answers queued payloads and errors", func(t *testing.T) {
		if err := s.QueueLambdaResponse(ctx, `{"ok":1}`, `{"errorType":"Boom","errorMessage":"bad"}`); err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct{ body, fnErr string }{{`{"ok":1}`, ""}, {`{"errorType":"Boom","errorMessage":"bad"}`, "Unhandled"}} {
			body, fnErr := invokeStub(t, ctx, s.Endpoint(), st.MergeFunctionArn)
			if body != want.body || fnErr != want.fnErr {
				t.Errorf("invoke = %s (function error %q), want %s (%q)", body, fnErr, want.body, want.fnErr)
			}
		}
	})

	t.Run("executions after a Task state still start", func(t *testing.T) {
		arn, err := s.CreateStateMachine(ctx, "tasks", []byte(taskDefinition), map[string]string{"Fn": st.MergeFunctionArn, "Table": st.TableName})
		if err != nil {
			t.Fatal(err)
		}
		// A second machine: moto 5.2.1 also copied other machines' executions.
		other, err := s.CreateStateMachine(ctx, "tasks2", []byte(taskDefinition), map[string]string{"Fn": st.MergeFunctionArn, "Table": st.TableName})
		if err != nil {
			t.Fatal(err)
		}
		c := sfn.NewFromConfig(cfg)
		for i, tc := range []struct {
			machine, name, stub string
			want                sfntypes.ExecutionStatus
		}{
			{arn, "first", `{"n":1}`, sfntypes.ExecutionStatusSucceeded},
			{arn, "second", `{"errorType":"Boom","errorMessage":"caught"}`, sfntypes.ExecutionStatusFailed},
			{arn, "", `{"n":3}`, sfntypes.ExecutionStatusSucceeded},
			{other, "fourth", `{"n":4}`, sfntypes.ExecutionStatusSucceeded},
		} {
			if err := s.QueueLambdaResponse(ctx, tc.stub); err != nil {
				t.Fatal(err)
			}
			in := &sfn.StartExecutionInput{StateMachineArn: &tc.machine, Input: aws.String(`{}`)}
			if tc.name != "" {
				in.Name = aws.String(tc.name)
			}
			out, err := c.StartExecution(ctx, in)
			if err != nil {
				t.Fatalf("execution %d: %v", i, err)
			}
			if tc.name == "" && strings.HasSuffix(aws.ToString(out.ExecutionArn), ":None") {
				t.Errorf("unnamed execution got the name None: %s", aws.ToString(out.ExecutionArn))
			}
			got, err := mototest.WaitExecution(ctx, c, aws.ToString(out.ExecutionArn))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("execution %d status = %s, want %s", i, got, tc.want)
			}
		}
	})

	t.Run("close is idempotent", func(t *testing.T) {
		s2 := mototest.Start(t)
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := http.Get(s2.Endpoint() + "/moto-api/config"); err == nil {
			t.Error("server still answers after Close")
		}
	})
}

type sqstypesName = sqstypes.QueueAttributeName

func invokeStub(t *testing.T, ctx context.Context, endpoint, arn string) (body, functionError string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/2015-03-31/functions/"+arn+"/invocations", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.Header.Get("X-Amz-Function-Error")
}
