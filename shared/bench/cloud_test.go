package bench

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

func TestBillingUnits(t *testing.T) {
	tests := []struct {
		service, op     string
		req, resp, want int64
	}{
		{"SQS", "SendMessageBatch", 10, 200, 1},
		{"SQS", "SendMessageBatch", 64 << 10, 0, 1},
		{"SQS", "SendMessageBatch", 64<<10 + 1, 0, 2},
		{"DynamoDB", "PutItem", 0, 0, 1},
		{"DynamoDB", "PutItem", 2500, 10, 3},
		{"DynamoDB", "TransactWriteItems", 1500, 10, 4},
		{"DynamoDB", "GetItem", 100, 4096, 1},
		{"DynamoDB", "Query", 100, 9000, 3},
		{"DynamoDB", "TransactGetItems", 100, 100, 2},
		{"S3", "PutObject", 1 << 20, 0, 1},
		{"SFN", "StartExecution", 500, 500, 1},
	}
	for _, tt := range tests {
		if got := billingUnits(tt.service, tt.op, tt.req, tt.resp); got != tt.want {
			t.Errorf("%s.%s (%d, %d) = %d units, want %d", tt.service, tt.op, tt.req, tt.resp, got, tt.want)
		}
	}
}

func TestAWSCounterAdd(t *testing.T) {
	c := NewAWSCounter()
	c.Add("SQS", "SendMessageBatch", 100, 50, "")
	c.Add("SQS", "SendMessageBatch", 100, 50, "RequestThrottled")
	c.Add("DynamoDB", "PutItem", 3000, 10, "")
	ops := c.Ops()
	if s := ops["SQS.SendMessageBatch"]; s.Requests != 2 || s.Errors != 1 || s.RequestBytes != 200 || s.ResponseBytes != 100 || s.Units != 2 || s.ErrorCodes["RequestThrottled"] != 1 {
		t.Errorf("SQS stats %+v", s)
	}
	if s := ops["DynamoDB.PutItem"]; s.Requests != 1 || s.Units != 3 {
		t.Errorf("DynamoDB stats %+v", s)
	}
	if got := c.ByService(); got["SQS"] != 2 || got["DynamoDB"] != 1 || len(got) != 2 {
		t.Errorf("by service %v", got)
	}
	if c.Total() != 3 {
		t.Errorf("total %d", c.Total())
	}
}

// TestAWSCounterMiddleware counts real SDK requests, retried attempts included,
// against a server that fails the first attempt of each call with a 500.
func TestAWSCounterMiddleware(t *testing.T) {
	var calls int
	srv := newFlakyServer(t, &calls)
	c := NewAWSCounter()
	cfg := c.Instrument(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.Backoff = retry.NewExponentialJitterBackoff(time.Millisecond)
		})
	})
	for range 2 {
		if _, err := client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(srv + "/q"), ReceiptHandle: aws.String("r")}); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Ops()["SQS.DeleteMessage"]
	if s.Requests != 4 || s.Errors != 2 || calls != 4 || s.RequestBytes == 0 || s.ErrorCodes["InternalError"] != 2 {
		t.Fatalf("stats %+v after %d server calls; want 4 requests, 2 failed", s, calls)
	}
	// The configuration it was given is left alone.
	if len(cfg.APIOptions) != 1 {
		t.Fatalf("%d API options", len(cfg.APIOptions))
	}
}

func TestPrice(t *testing.T) {
	p := Prices{LambdaGBSecondARM: 1, LambdaRequest: 10, SQSRequest: 100, DynamoWRU: 1000, DynamoRRU: 10000, SFNTransition: 1e5, S3Put: 1e6, S3Get: 1e7}
	j := CloudJob{
		Invocations: map[string]int{RoleAnalyze: 2, RoleMerge: 1},
		HandlerTime: map[string]time.Duration{RoleAnalyze: 2 * time.Second, RoleMerge: time.Second},
		Transitions: 4,
		Ops: map[string]map[string]OpStats{
			RoleAnalyze: {"DynamoDB.GetItem": {Requests: 2, Units: 2}, "DynamoDB.TransactWriteItems": {Requests: 1, Units: 4}, "SQS.SendMessageBatch": {Requests: 1, Units: 3}},
			RoleMerge:   {"S3.PutObject": {Requests: 1, Units: 1}, "S3.GetObject": {Requests: 2, Units: 2}, "S3.DeleteObject": {Requests: 5, Units: 5}},
		},
	}
	c := j.Price(p, time.Second)
	// analyze: 0.25 GB x (2s + 2 x 1s); merge: 0.5 GB x 1s.
	want := Cost{LambdaRequests: 30, LambdaCompute: 0.25*4 + 0.5, SQS: 300, DynamoDB: 2*10000 + 4*1000, S3: 1e6 + 2e7, StepFunctions: 4e5}
	if c != want {
		t.Fatalf("cost %+v, want %+v", c, want)
	}
	if c.Total() != want.LambdaRequests+want.LambdaCompute+want.SQS+want.DynamoDB+want.S3+want.StepFunctions {
		t.Fatalf("total %v", c.Total())
	}
	if j.Requests() != 12 || j.Requests(RoleMerge) != 8 || j.ServiceRequests(RoleAnalyze)["DynamoDB"] != 3 {
		t.Fatalf("requests %d / %d / %v", j.Requests(), j.Requests(RoleMerge), j.ServiceRequests(RoleAnalyze))
	}
	if len(ListPrices().Sources) != 5 {
		t.Fatal("every price needs its source")
	}
}

// TestCloudScenario runs the cloud path on moto with two small jobs.
func TestCloudScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto")
	}
	s, err := Cloud(context.Background(), CloudConfig{Sizes: []int{5, 13}, Batch: 3})
	if errors.Is(err, mototest.ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 2 {
		t.Fatalf("rows %+v", s.Rows)
	}
	for i, n := range []float64{5, 13} {
		v := s.Rows[i].Values
		// One SQS message per exercise, sent in batches of 10; one execution started
		// and one task token sent back; the same state transitions for both sizes.
		wantSQS := float64(int(n+9) / 10)
		if v["sqs"] != wantSQS || v["sfn"] != 2 || v["transitions"] != s.Rows[0].Values["transitions"] || v["transitions"] < 3 {
			t.Errorf("job of %v: %v", n, v)
		}
		// Each exercise is received and deleted at least once by the poller.
		if v["poller"] < 2*n || v["usd_per_1000"] <= v["usd_per_1000_no_wait"] {
			t.Errorf("job of %v: %v", n, v)
		}
	}
	for _, tg := range s.Targets {
		if strings.Contains(tg.Name, "degraded") || strings.Contains(tg.Name, "state transitions") {
			if !tg.Met {
				t.Errorf("target %+v", tg)
			}
		}
	}
}
