package main

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/shared/testkit/storetest"
)

func TestMainWiring(t *testing.T) {
	srv := mototest.Start(t)
	ctx := t.Context()
	st, err := srv.Provision(ctx, mototest.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(append(srv.Env(), st.LambdaEnv()...), "LOG_LEVEL=ERROR") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg := srv.AWSConfig(ctx)
	store := dynamo.New(dynamodb.NewFromConfig(cfg), st.TableName)
	const id = "ade-00000000c0c0"
	job := examina.Job{ID: id, Course: examina.Course{Code: "ADE"}, Status: examina.JobRunning, Total: 2}
	if _, err := store.CreateJob(ctx, job, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{0, 1} {
		if _, _, _, err := store.RecordResult(ctx, id, storetest.Result(p)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := newHandler(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h(ctx, cloud.MergeInput{JobID: id})
	if err != nil || out.Status != "completed" || out.ResultKey != "results/ADE/"+id+".json" {
		t.Fatalf("merge = %+v, %v", out, err)
	}
	var doc examina.Result
	if err := s3obj.New(s3.NewFromConfig(cfg), st.BucketName).GetJSON(ctx, out.ResultKey, &doc); err != nil || doc.JobID != id || len(doc.Exercises) != 2 {
		t.Fatalf("result document = %+v, %v", doc, err)
	}
}
