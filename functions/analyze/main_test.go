package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/fleetgate"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

func TestMainWiring(t *testing.T) {
	srv := mototest.Start(t)
	ctx := t.Context()
	st, err := srv.Provision(ctx, mototest.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.AWSConfig(ctx)
	// The key is read from an SSM SecureString.
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/examina/key"),
		Value: aws.String("sk-test"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(append(srv.Env(), st.LambdaEnv()...), "EXAMINA_PROVIDER=simulated", "EXAMINA_API_KEY_PARAMETER=/examina/key", "LOG_LEVEL=ERROR", "EXAMINA_RPM=600", "EXAMINA_TPM=") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	store := dynamo.New(dynamodb.NewFromConfig(cfg), st.TableName)
	const id = "ade-00000000a0a0"
	c := examina.Course{Code: "ADE", Name: "A", Language: "it"}
	exs := []examina.Exercise{{ID: "x", Text: "Convertire 42 in binario.", Position: 0}}
	job := examina.Job{ID: id, Course: c, Status: examina.JobPending, Total: 1}
	if _, err := store.CreateJob(ctx, job, exs); err != nil {
		t.Fatal(err)
	}
	if _, err := store.StartFanOut(ctx, id, "not-a-real-token"); err != nil {
		t.Fatal(err)
	}
	bodies, _ := cloud.Tasks(job, exs)

	h, err := newHandler(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: bodies[0], Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m2", Body: "not json", Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
	}}
	resp, err := h(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Fatalf("Handle = %+v, %v; want only m2 failed", resp, err)
	}
	got, err := store.GetJob(ctx, id)
	if err != nil || got.Done != 1 {
		t.Fatalf("job = %+v, %v; want done 1", got, err)
	}
	rs, _ := store.Results(ctx, id)
	if len(rs) != 1 || rs[0].Analysis.Provider != "simulated" {
		t.Fatalf("results = %+v", rs)
	}
	// The call went through the fleet budget (EXAMINA_RPM), kept under the key's hash.
	budget, err := fleetgate.NewDynamoTable(dynamodb.NewFromConfig(cfg), st.TableName).Get(ctx, fleetgate.Key("simulated", rs[0].Analysis.Model, "sk-test"))
	if err != nil || !budget.Exists || budget.Rtat == 0 || budget.Clim != 10 || len(budget.Leases) != 0 {
		t.Fatalf("fleet budget = %+v, %v; want an item with the call booked and settled", budget, err)
	}
}

func TestMissingKeyParameter(t *testing.T) {
	srv := mototest.Start(t)
	st, err := srv.Provision(t.Context(), mototest.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(append(srv.Env(), st.LambdaEnv()...), "EXAMINA_PROVIDER=simulated", "EXAMINA_API_KEY_PARAMETER=/missing", "LOG_LEVEL=ERROR") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	h, err := newHandler(t.Context(), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"job_id":"ade-00000000b0b0","course":{"code":"ADE"},"position":0,"exercise":{"id":"x","text":"t","position":0},"total":1}`
	resp, _ := h(t.Context(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: body, Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}})
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("a message whose provider key cannot be read must be redelivered: %+v", resp)
	}
}
