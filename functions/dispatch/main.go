// Command dispatch is the DispatchFunction Lambda: S3 uploads, the HTTP API and the
// state machine's fan-out task (cloud.Dispatcher). Configuration comes from the
// environment only (docs/ARCHITECTURE.md); AWS_ENDPOINT_URL points the SDK elsewhere.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
)

func main() {
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("dispatch: configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h)
}

// newHandler wires the dispatcher from the environment; clients are created once per
// cold start.
func newHandler(ctx context.Context, getenv func(string) string) (func(context.Context, json.RawMessage) (any, error), error) {
	env, err := cloud.LoadEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := env.Require("TABLE_NAME", "QUEUE_URL", "BUCKET_NAME", "STATE_MACHINE_ARN"); err != nil {
		return nil, err
	}
	pcfg, err := providers.FromEnv(getenv).WithDefaults()
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	pathStyle := getenv("AWS_ENDPOINT_URL") != "" || getenv("AWS_ENDPOINT_URL_S3") != ""
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), env.TableName)
	bucket := s3obj.New(s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = pathStyle; o.DisableLogOutputChecksumValidationSkipped = true }), env.BucketName)

	prices, err := cost.Builtin()
	if err != nil {
		return nil, err
	}
	d := &cloud.Dispatcher{
		MaxCostUSD:               env.MaxCostUSD,
		Pricing:                  cloud.Pricing{Table: prices, BaseURL: pcfg.BaseURL},
		Store:                    store,
		Cache:                    store,
		Objects:                  bucket,
		Links:                    bucket,
		Queue:                    sqsq.New(sqs.NewFromConfig(awsCfg), env.QueueURL),
		Executions:               sfn.NewFromConfig(awsCfg),
		Bucket:                   env.BucketName,
		StateMachineARN:          env.StateMachineARN,
		InputPrefix:              env.InputPrefix,
		FanOutSecondsPerExercise: env.FanOutSecondsPerExercise,
		Provider:                 pcfg.Name,
		Model:                    pcfg.Model,
		Logger:                   cloud.NewLogger(os.Stdout, env.LogLevel),
	}
	return d.Handle, nil
}
